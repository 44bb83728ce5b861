/**
 * The shape of the realism knobs, checked wherever knobs come in (the control endpoint, a seed file, the options of
 * `startEmulator`), so that a value of the wrong shape is refused up front instead of breaking later requests.
 */
import { z } from 'zod';
import { SERVICE_NAMES, type Knobs } from './state.js';

const service = z.enum(SERVICE_NAMES as [string, ...string[]]);
const ms = z.number().finite().min(0);

const smtpLimits = z
  .object({
    /** Authenticated SMTP connections one mailbox may hold at once; one more is answered 432 4.3.2. 0 = no limit. */
    concurrentConnectionsPerMailbox: z.number().int().min(0),
    /** SendAs-denied submissions of one mailbox before it is throttled (550 5.2.252 …). 0 = never. */
    continuousErrorLimit: z.number().int().min(0),
    /** How long a mailbox stays throttled once the limit is reached, in seconds. */
    continuousErrorThrottleSeconds: z.number().min(0),
  })
  .strict();

/** A patch of knobs: every key optional, objects merged key by key. */
export const knobsPatchSchema = z
  .object({
    latency: z.record(service, ms).optional(),
    replicationDelayMs: ms.optional(),
    exchangeReplicationDelayMs: ms.nullable().optional(),
    permissionCacheSeconds: ms.optional(),
    throttle: z
      .object({
        every: z.number().int().min(0),
        retryAfterSeconds: z.number().int().min(0),
        services: z.array(service),
      })
      .strict()
      .partial()
      .optional(),
    faults: z
      .array(z.object({ service, call: z.number().int().min(1), kind: z.enum(['503', 'reset', 'hang']) }).strict())
      .optional(),
    consent: z.enum(['approve', 'deny']).optional(),
    smtpLimits: smtpLimits.partial().optional(),
    /** Exchange admin requests one organization may have running at once; one more is answered 429. 0 = no limit. */
    exchangeLimits: z
      .object({ concurrentRequestsPerTenant: z.number().int().min(0) })
      .strict()
      .partial()
      .optional(),
  })
  .strict();

export type KnobsPatch = z.input<typeof knobsPatchSchema>;

/** Applies a patch to knobs, or answers why it can't (a readable sentence naming the first bad knob). */
export function mergeKnobs(current: Knobs, patch: unknown): Knobs | string {
  const parsed = knobsPatchSchema.safeParse(patch ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || 'knobs';
    return `${where}: ${issue.message}`;
  }
  const p = parsed.data;
  const next: Knobs = structuredClone(current);
  if (p.latency) Object.assign(next.latency, p.latency);
  if (p.replicationDelayMs !== undefined) next.replicationDelayMs = p.replicationDelayMs;
  if (p.exchangeReplicationDelayMs !== undefined) next.exchangeReplicationDelayMs = p.exchangeReplicationDelayMs;
  if (p.permissionCacheSeconds !== undefined) next.permissionCacheSeconds = p.permissionCacheSeconds;
  if (p.throttle) next.throttle = { ...next.throttle, ...(p.throttle as Partial<Knobs['throttle']>) };
  if (p.faults) next.faults = p.faults as Knobs['faults'];
  if (p.consent) next.consent = p.consent;
  if (p.smtpLimits) next.smtpLimits = { ...next.smtpLimits, ...p.smtpLimits };
  if (p.exchangeLimits) next.exchangeLimits = { ...next.exchangeLimits, ...p.exchangeLimits };
  return next;
}
