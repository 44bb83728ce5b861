/**
 * The fleet file (`--fleet fleet.yaml`): `defaults:` (any config key) and `tenants:` (each a tenant with its own
 * config keys and a unique `name`), validated as a whole, entry by entry, through the same schemas as the
 * single-tenant config file. Also the fleet's own options (--fleet, --parallel, --fail-fast, --shard): one table
 * for their flags, SENDASAPP_* variables, fleet-file keys and JSON Schema.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { readConfigData, requireTarget, resolveOptionSources, type Sources } from './load.js';
import { configFileSchema, OPTION_SPECS, type ProvisionOptions } from './options.js';
import { text } from './primitives.js';

/** The keys that say which tenant and what of it: given as a flag or variable they would apply to every entry. */
export const PER_TENANT_KEYS = [
  'tenant',
  'homeTenant',
  'mailboxes',
  'group',
  'secretOut',
  'certificateFile',
  'handoffOut',
] as const;

const entryName = text('a name of 1 to 120 characters')
  .trim()
  .min(1, 'must not be empty')
  .max(120, 'must be at most 120 characters');

/** A tenant entry: every config key, plus its name. */
export const fleetTenantSchema = configFileSchema.extend({
  name: entryName.optional().describe('the entry name in results and shards (default: its tenant); unique'),
});

export const PARALLEL_MAX = 64;
const parallel = z
  .number({ error: 'must be a whole number from 1 to 64' })
  .int('must be a whole number from 1 to 64')
  .min(1, 'must be at least 1')
  .max(PARALLEL_MAX, `must be at most ${PARALLEL_MAX}`);

/**
 * The default --parallel. Graph's and Exchange's throttling is per app per tenant (429 + Retry-After), so tenants do
 * not slow each other down at the services; what they share is this machine (~0.07 s of CPU per tenant, bench/fleet.ts)
 * and the operator's token endpoint (one app for every tenant; Entra's 429 there asks for up to a minute's pause).
 * Each tenant holds only a few requests in flight, and most of its time is spent waiting on the services.
 */
export const DEFAULT_PARALLEL = 8;

/** The fleet file: defaults, tenants, and the runner's own keys. */
export const fleetFileSchema = z
  .object({
    defaults: configFileSchema.optional().describe('config keys every tenant entry gets unless it sets them itself'),
    tenants: z
      .array(fleetTenantSchema, { error: 'must be a list of tenant entries' })
      .min(1, 'must list at least one tenant')
      .describe('one entry per tenant: any config key, and a unique name'),
    parallel: parallel.optional().describe(`how many tenants run at once (default ${DEFAULT_PARALLEL}; --parallel)`),
    failFast: z
      .boolean({ error: 'must be true or false' })
      .optional()
      .describe('stop starting tenants after the first failure (--fail-fast)'),
  })
  .strict();

export interface FleetOptionSpec {
  key: 'fleet' | 'parallel' | 'failFast' | 'shard' | 'report';
  flag: string;
  env: string;
  description: string;
  boolean?: boolean;
  /** A key of the fleet file too. */
  fileKey?: boolean;
}

/** The fleet's options: flags on plan, apply, status and handoff; variables; keys of the fleet file. */
export const FLEET_OPTIONS: FleetOptionSpec[] = [
  {
    key: 'fleet',
    flag: '--fleet <file>',
    env: 'SENDASAPP_FLEET',
    description: 'run for every tenant of this fleet file (YAML or JSON: defaults + tenants)',
  },
  {
    key: 'parallel',
    flag: '--parallel <n>',
    env: 'SENDASAPP_PARALLEL',
    description: `with --fleet: how many tenants run at once, 1 to ${PARALLEL_MAX} (default: ${DEFAULT_PARALLEL})`,
    fileKey: true,
  },
  {
    key: 'failFast',
    flag: '--fail-fast',
    env: 'SENDASAPP_FAIL_FAST',
    description: 'with --fleet: start no more tenants after the first one that failed',
    boolean: true,
    fileKey: true,
  },
  {
    key: 'shard',
    flag: '--shard <k/N>',
    env: 'SENDASAPP_SHARD',
    description: "with --fleet: run only shard k of N (a tenant's shard comes from a hash of its name)",
  },
  {
    key: 'report',
    flag: '--report <file>',
    env: 'SENDASAPP_REPORT',
    description:
      'with --fleet: after the run, write the fleet report to this file (HTML; Markdown when it ends in .md)',
  },
];

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(value: string, field: string): Shard {
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(value);
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || k < 1 || k > n)
    throw new ConfigError(field, `must be k/N with 1 <= k <= N, such as 2/5 (got "${value}")`);
  return { index: k, count: n };
}

export interface FleetEntry {
  /** The entry's name (unique in the file). */
  name: string;
  /** Its position in the file (0-based), for messages. */
  index: number;
  /** The entry's tenant as written (resolved options lower-case it). */
  tenant: string;
  options: ProvisionOptions & { tenant: string };
}

export interface Fleet {
  file: string;
  entries: FleetEntry[];
  parallel?: number;
  failFast?: boolean;
}

/** `tenants[3] (contoso)`: how messages name an entry. */
export function entryLabel(index: number, name: string | undefined): string {
  return `tenants[${index}]${name ? ` (${name})` : ''}`;
}

/** A zod path as people and JSON Pointer-minded tools read it: `mailboxes[0].x`. */
function pathText(p: ReadonlyArray<PropertyKey>): string {
  return p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

function issueText(error: z.ZodError): { where: string; message: string } {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys')
    return {
      where: pathText([...issue.path, issue.keys[0]!]),
      message: `is not an option; allowed: name, ${OPTION_SPECS.map((o) => o.key).join(', ')}`,
    };
  return { where: pathText(issue.path), message: issue.message };
}

export interface ReadFleetOptions {
  /** The command's flags (commander attributes) and environment, applied to every entry above its own keys. */
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** The command needs mailboxes or a group in each entry. */
  needMailboxes?: boolean;
  /** The command's own defaults and reading (verify: `wait: '0'`, only the proof). */
  sources?: Pick<Sources, 'defaults' | 'proofOnly'>;
}

/**
 * Reads and validates a fleet file as a whole: each entry is its defaults with its own keys over them, then flags
 * and variables over both, validated as `-f` would validate a config file (relative paths from the fleet file's
 * directory). The first bad entry throws a ConfigError naming it and the field: `tenants[3] (contoso): mailboxes[0]`.
 */
export function readFleet(file: string, o: ReadFleetOptions): Fleet {
  const env = o.env ?? process.env;
  const data = readConfigData(file);
  const parsed = fleetFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [top, index] = issue.path;
    if (top === 'tenants' && typeof index === 'number') {
      const raw = (data.tenants as unknown[])[index] as Record<string, unknown> | undefined;
      const name = typeof raw?.name === 'string' ? raw.name : typeof raw?.tenant === 'string' ? raw.tenant : undefined;
      const sub = new z.ZodError([{ ...issue, path: issue.path.slice(2) }] as z.core.$ZodIssue[]);
      const { where, message } = issueText(sub);
      throw new ConfigError(`${file}: ${entryLabel(index, name)}${where ? `: ${where}` : ''}`, message);
    }
    const { where, message } = issueText(parsed.error);
    throw new ConfigError(`${file}${where ? `: ${where}` : ''}`, message);
  }
  for (const key of PER_TENANT_KEYS) {
    const spec = OPTION_SPECS.find((s) => s.key === key)!;
    const flag = o.flags[attributeOf(spec.flag)];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0))
      throw new ConfigError(
        /--[a-z0-9-]+/.exec(spec.flag)![0],
        `is per tenant with --fleet: set ${key} in the fleet file's entries`,
      );
    if (env[spec.env])
      throw new ConfigError(
        spec.env,
        `is per tenant with --fleet: set ${key} in the fleet file's entries (unset the variable)`,
      );
  }
  const fleet = parsed.data;
  const rawTenants = data.tenants as Array<Record<string, unknown>>;
  const rawDefaults = (data.defaults ?? {}) as Record<string, unknown>;
  const seen = new Map<string, number>();
  const entries = rawTenants.map((raw, index): FleetEntry => {
    const { name: givenName, ...keys } = raw;
    const tenantText =
      typeof keys.tenant === 'string'
        ? keys.tenant
        : typeof rawDefaults.tenant === 'string'
          ? rawDefaults.tenant
          : undefined;
    const name = typeof givenName === 'string' ? givenName.trim() : tenantText;
    const label = entryLabel(index, name);
    if (!name)
      throw new ConfigError(
        `${file}: ${label}: tenant`,
        'is required: the mailbox tenant, as an id (GUID) or a verified domain',
      );
    const before = seen.get(name.toLowerCase());
    if (before !== undefined)
      throw new ConfigError(
        `${file}: ${label}: name`,
        `"${name}" is the name of ${entryLabel(before, name)} too; names are unique (give each entry its own name)`,
      );
    seen.set(name.toLowerCase(), index);
    try {
      const { options } = resolveOptionSources({
        flags: o.flags,
        env,
        file,
        fileData: { ...rawDefaults, ...keys },
        ...o.sources,
      });
      requireTarget(options, o.needMailboxes ?? true);
      return { name, index, tenant: tenantText ?? options.tenant, options };
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConfigError(`${file}: ${label}: ${entryField(err.field, file, o.flags)}`, err.reason);
      throw err;
    }
  });
  return { file: path.resolve(file), entries, parallel: fleet.parallel, failFast: fleet.failFast };
}

/**
 * The field of an entry's error: `fleet.yaml: mailboxes (item 1)` → `mailboxes (item 1)`; a flag the command was
 * not given (`--tenant` of a requirement) → the entry's key; a flag given, or a variable, as it is.
 */
function entryField(field: string, file: string, flags: Record<string, unknown>): string {
  if (field.startsWith(`${file}: `)) return field.slice(file.length + 2);
  const spec = OPTION_SPECS.find((s) => /--[a-z0-9-]+/.exec(s.flag)![0] === field);
  if (spec && flags[attributeOf(spec.flag)] === undefined) return spec.key;
  return field;
}

const attributeOf = (flag: string): string =>
  /--([a-z0-9-]+)/.exec(flag)![1]!.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The fleet file's JSON Schema (`sendasapp fleet schema`), from the same zod schemas as the config file's. */
export function fleetJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(fleetFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: 'https://sendasapp.dev/schema/sendasapp.fleet.json', title: 'sendasapp fleet file', ...schema };
}
