/**
 * The value forms every input shares (flags, environment, config files, wizard answers), each with a message that
 * names the allowed form.
 */
import { z } from 'zod';

// Both cases are spelled out (not only the i flag) so that the published JSON Schema, which has no flags, accepts
// what validation accepts.
export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/i;
const DOMAIN_PATTERN = /^(?=.{4,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/i;
const MAILBOX_PATTERN =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/i;

/** A string schema whose wrong-type message names the allowed form (never zod's "Invalid input: expected …"). */
export function text(form: string) {
  return z.string({ error: `must be ${form}` });
}

const GUID_FORM = 'a GUID such as 00000000-0000-0000-0000-000000000000';
export const guid = text(GUID_FORM)
  .trim()
  .regex(GUID_PATTERN, `must be ${GUID_FORM}`)
  .transform((s) => s.toLowerCase());

const DOMAIN_FORM = 'a DNS domain such as contoso.onmicrosoft.com';
export const domain = text(DOMAIN_FORM)
  .trim()
  .regex(DOMAIN_PATTERN, `must be ${DOMAIN_FORM}`)
  .transform((s) => s.toLowerCase());

/** A tenant: its id (GUID) or one of its verified domains. */
const TENANT_FORM = 'a tenant id (GUID) or a verified domain such as contoso.onmicrosoft.com';
export const tenantRef = text(TENANT_FORM)
  .trim()
  .refine((s) => GUID_PATTERN.test(s) || DOMAIN_PATTERN.test(s), { message: `must be ${TENANT_FORM}` })
  .transform((s) => s.toLowerCase());

const MAILBOX_FORM = 'a mailbox address such as scanner@contoso.com';
export const mailbox = text(MAILBOX_FORM)
  .trim()
  .regex(MAILBOX_PATTERN, `must be ${MAILBOX_FORM}`)
  .transform((s) => s.toLowerCase());

export interface Duration {
  /** As written, e.g. "12mo". */
  text: string;
  days: number;
  ms: number;
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Parses `90s`, `30m`, `2h`, `180d`, `2w`, `12mo`, `1y` (and `0`). */
export function parseDuration(text: string): Duration | undefined {
  const t = text.trim().toLowerCase();
  if (t === '0') return { text, days: 0, ms: 0 };
  const m = /^(\d{1,6})(s|m|h|d|w|mo|y)$/.exec(t);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return { text: t, days: ms / 86_400_000, ms };
}

const DURATION_EXAMPLES = '90s, 30m, 2h, 180d, 2w, 12mo or 1y';

/** The written form of a bound: 86_400_000 → "1d", 730 days → "2y". */
function boundText(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS).reverse()) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

/**
 * A duration, written as a string ("30m"; the number 0 is accepted too: it needs no unit), optionally bounded.
 * Only strings and 0 are valid, and the JSON Schema says so.
 */
export function durationIn(bounds: { minMs?: number; maxMs?: number; examples?: string } = {}) {
  const form = `a duration such as ${bounds.examples ?? DURATION_EXAMPLES}`;
  const limits = [
    bounds.minMs !== undefined ? `at least ${boundText(bounds.minMs)}` : undefined,
    bounds.maxMs !== undefined ? `at most ${boundText(bounds.maxMs)}` : undefined,
  ].filter((l): l is string => l !== undefined);
  const range = limits.length > 0 ? limits.join(' and ') : undefined;
  const ranged = range ? `${form}, ${range}` : form;
  return z
    .union([z.string(), z.literal(0)], { error: `must be ${ranged}, written as a string (e.g. "30m")` })
    .transform((v, ctx): Duration => {
      const d = parseDuration(String(v));
      if (!d) {
        ctx.addIssue({ code: 'custom', message: `must be ${ranged}` });
        return z.NEVER;
      }
      if ((bounds.minMs !== undefined && d.ms < bounds.minMs) || (bounds.maxMs !== undefined && d.ms > bounds.maxMs)) {
        ctx.addIssue({ code: 'custom', message: `must be ${range} (${form}); got ${d.text}` });
        return z.NEVER;
      }
      return d;
    });
}

export const duration = durationIn();

/** Display names of Entra applications: 1–120 printable characters. */
export const displayName = text('a display name of 1 to 120 characters')
  .trim()
  .min(1, 'must not be empty')
  .max(120, 'must be at most 120 characters')
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20), 'must not contain control characters');
