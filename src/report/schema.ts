/**
 * The contract between a fleet run and its report: the lines of `--output jsonl` (one `tenant` object per tenant, then
 * one `summary`) and the one object of `--output json` (`{ command, tenants, summary }`). Each tenant carries the
 * single-tenant JSON result (`jsonResult` in src/cli/tenant-command.ts) as `result`. The objects are loose: fields
 * this report does not read pass through untouched, those it reads are checked.
 */
import { z } from 'zod';

export const OUTCOMES = ['ok', 'changes-pending', 'bad-input', 'failed', 'waiting', 'proof-not-passed', 'interrupted'];

const outcome = z.enum(OUTCOMES as [string, ...string[]]);
const shard = z.string().regex(/^\d+\/\d+$/, 'must be k/N, e.g. 2/3');
const timestamp = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date-time such as 2026-12-01T10:00:00Z');

const nodeReport = z.looseObject({
  key: z.string(),
  title: z.string(),
  status: z.string(),
  message: z.string().optional(),
});

const credentialExpiry = z.looseObject({
  type: z.string(),
  keyId: z.string(),
  displayName: z.string().nullable().optional(),
  expires: z.string().nullable(),
  daysLeft: z.number().nullable().optional(),
  warning: z.boolean().optional(),
});

/** The single-tenant JSON result, as `--output json` prints it (or an error-only object of a run that never opened). */
export const tenantResultSchema = z.looseObject({
  command: z.string().optional(),
  outcome: outcome.optional(),
  changed: z.boolean().optional(),
  tenant: z.string().optional(),
  homeTenant: z.string().optional(),
  application: z
    .looseObject({
      appId: z.string().optional(),
      uniqueName: z.string().optional(),
      displayName: z.string().optional(),
    })
    .optional(),
  mailboxes: z.array(z.string()).optional(),
  preflight: z.array(nodeReport).optional(),
  resources: z.array(nodeReport).optional(),
  /** How Exchange authorizes the app, and why (the run's resolved `--mailbox-access`). */
  mailboxAccess: z.looseObject({ mode: z.string(), reason: z.string().optional() }).optional(),
  credential: z
    .looseObject({ type: z.string(), keyId: z.string().optional(), expires: z.string().optional() })
    .optional(),
  smtpAuth: z
    .looseObject({
      organizationDisabled: z.boolean(),
      mailboxes: z.array(
        z.looseObject({ mailbox: z.string(), setting: z.boolean().nullable(), effectiveDisabled: z.boolean() }),
      ),
    })
    .optional(),
  verification: z
    .looseObject({
      status: z.string(),
      reply: z.string(),
      cause: z.string().optional(),
      fix: z.string().optional(),
    })
    .optional(),
  notes: z.array(z.looseObject({ code: z.string(), severity: z.string(), text: z.string() })).optional(),
  error: z.looseObject({ code: z.string(), message: z.string(), field: z.string().optional() }).optional(),
  credentials: z.array(credentialExpiry).optional(),
  expiring: z.array(z.string()).optional(),
  drift: z.array(z.string()).optional(),
  findings: z.number().optional(),
});

/** One tenant of a fleet run (a JSONL line without its `type`, or an entry of the JSON form's `tenants`). */
export const tenantEntrySchema = z.looseObject({
  name: z.string().min(1, 'must be the fleet entry name'),
  tenant: z.string(),
  shard: shard.optional(),
  exitCode: z.number().int(),
  /** When this tenant's run ended (optional; else its file's summary says when the run ended). */
  finishedAt: timestamp.optional(),
  result: tenantResultSchema,
});

export const summarySchema = z.looseObject({
  command: z.string(),
  tenants: z.number().int().min(0),
  counts: z.record(z.string(), z.number().int().min(0)),
  exitCode: z.number().int(),
  shard: shard.optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
});

/** A line of `--output jsonl`. */
export const jsonlLineSchema = z.discriminatedUnion('type', [
  tenantEntrySchema.extend({ type: z.literal('tenant') }),
  summarySchema.extend({ type: z.literal('summary') }),
]);

/** The object of `--output json`. */
export const fleetJsonSchema = z.looseObject({
  command: z.string(),
  tenants: z.array(tenantEntrySchema),
  summary: summarySchema.optional(),
});

export type TenantResult = z.infer<typeof tenantResultSchema>;
export type TenantEntry = z.infer<typeof tenantEntrySchema>;
export type FleetSummary = z.infer<typeof summarySchema>;
export type FleetJson = z.infer<typeof fleetJsonSchema>;
