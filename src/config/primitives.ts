/**
 * The value forms every input shares (flags, environment, config files, wizard answers), each with a message that
 * names the allowed form.
 */
import { z } from 'zod';

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN_PATTERN = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MAILBOX_PATTERN = /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export const guid = z
  .string()
  .trim()
  .regex(GUID_PATTERN, 'must be a GUID such as 00000000-0000-0000-0000-000000000000')
  .transform((s) => s.toLowerCase());

export const domain = z
  .string()
  .trim()
  .regex(DOMAIN_PATTERN, 'must be a DNS domain such as contoso.onmicrosoft.com')
  .transform((s) => s.toLowerCase());

/** A tenant: its id (GUID) or one of its verified domains. */
export const tenantRef = z
  .string()
  .trim()
  .refine((s) => GUID_PATTERN.test(s) || DOMAIN_PATTERN.test(s), {
    message: 'must be a tenant id (GUID) or a verified domain such as contoso.onmicrosoft.com',
  })
  .transform((s) => s.toLowerCase());

export const mailbox = z
  .string()
  .trim()
  .regex(MAILBOX_PATTERN, 'must be a mailbox address such as scanner@contoso.com')
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

export const duration = z.union([z.string(), z.number()]).transform((v, ctx): Duration => {
  const d = parseDuration(String(v));
  if (!d) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 30m, 2h, 180d, 2w, 12mo or 1y' });
    return z.NEVER;
  }
  return d;
});

/** Display names of Entra applications: 1–120 printable characters. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(120, 'must be at most 120 characters')
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20), 'must not contain control characters');
