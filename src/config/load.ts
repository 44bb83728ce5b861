/**
 * Resolves the provisioning options from flags > environment > config file > defaults, validating each value
 * with the schema of its option and naming where a bad value came from.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { looksLikeVaultUri } from './vault-uri.js';
import {
  checkCombinations,
  configFileSchema,
  DEFAULTS,
  OPTION_SPECS,
  PATH_KEYS,
  type OptionSpec,
  type ProvisionOptions,
} from './options.js';
import { checkSendAs } from './send-as.js';

/** The attribute commander gives a flag: `--app-name <name>` → `appName`. */
export function flagAttribute(spec: OptionSpec): string {
  const long = /--([a-z0-9-]+)/.exec(spec.flag)![1]!;
  return long.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function flagName(spec: OptionSpec): string {
  return /--[a-z0-9-]+/.exec(spec.flag)![0];
}

/** The first issue, with the item of a list named as a person counts (`mailboxes (item 2)`). */
function firstIssue(error: z.ZodError): { path: string; message: string } {
  const issue = error.issues[0]!;
  const [key, item, ...rest] = issue.path.map(String);
  const where = item !== undefined && /^\d+$/.test(item) ? `${key} (item ${Number(item) + 1})` : undefined;
  return {
    path: where ? [where, ...rest].join('.') : issue.path.map(String).join('.'),
    message: issue.message,
  };
}

function parseWith(spec: OptionSpec, value: unknown, field: string): unknown {
  const r = spec.schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = spec.list && issue.path.length > 0 ? `${field} (item ${Number(issue.path[0]) + 1})` : field;
    throw new ConfigError(where, issue.message);
  }
  return r.data;
}

/** The mapping a config file holds, parsed but not validated (e.g. to learn `output` when another key is bad). */
export function readConfigData(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      '--file',
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); give a readable YAML or JSON file`,
    );
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      file,
      `is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(file, 'must hold a mapping of option names to values');
  return data as Record<string, unknown>;
}

/** A config file, parsed and validated: every key an option, every value of its form. */
export function readConfigFile(file: string): Record<string, unknown> {
  const data = readConfigData(file);
  const r = configFileSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw new ConfigError(
        `${file}: ${issue.keys[0]}`,
        `is not an option; allowed: ${OPTION_SPECS.map((o) => o.key).join(', ')}`,
      );
    }
    const { path, message } = firstIssue(r.error);
    throw new ConfigError(`${file}: ${path}`, message);
  }
  return data;
}

function envValue(spec: OptionSpec, raw: string): unknown {
  if (spec.boolean) {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new ConfigError(spec.env, 'must be true or false');
  }
  if (spec.list)
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return raw;
}

export interface Sources {
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Path of the config file (`-f`). */
  file?: string;
  /** The config keys of `file`, already read and validated (a fleet file's entry with its defaults). */
  fileData?: Record<string, unknown>;
  /** Defaults of this command that differ from DEFAULTS (verify: `wait: '0'`). */
  defaults?: Partial<Record<keyof typeof DEFAULTS, string | boolean>>;
  /** `verify`: only the proof; it has no --verify, and a --send-to alone asks for the test message. */
  proofOnly?: boolean;
}

/** Options as given, with the field each one came from (flag, variable, `file: key`, or the key for a default). */
export interface ResolvedOptions {
  options: ProvisionOptions;
  fieldOf: Partial<Record<keyof ProvisionOptions, string>>;
}

/** A relative path in a config file means relative to the file's directory, not to the working directory. */
function fromFileDirectory(key: string, value: unknown, file: string): unknown {
  if (!(PATH_KEYS as readonly string[]).includes(key) || typeof value !== 'string') return value;
  if (key === 'secretOut' && looksLikeVaultUri(value)) return value; // a Key Vault secret, not a path
  return path.resolve(path.dirname(path.resolve(file)), value);
}

/** Options as given, merged and validated, with where each came from; no requirement of any command is checked. */
export function resolveOptionSources(sources: Sources): ResolvedOptions {
  const env = sources.env ?? process.env;
  const fileData = sources.fileData ?? (sources.file ? readConfigFile(sources.file) : {});
  const defaults: Record<string, unknown> = { ...DEFAULTS, ...sources.defaults };
  const out: Record<string, unknown> = {};
  const fieldOf: Record<string, string> = {};
  for (const spec of OPTION_SPECS) {
    const flagValue = sources.flags[flagAttribute(spec)];
    const envRaw = env[spec.env];
    let field: string | undefined;
    let value: unknown;
    if (flagValue !== undefined && !(spec.list && Array.isArray(flagValue) && flagValue.length === 0)) {
      [field, value] = [flagName(spec), flagValue];
    } else if (envRaw !== undefined && envRaw !== '') {
      [field, value] = [spec.env, envValue(spec, envRaw)];
    } else if (fileData[spec.key] !== undefined) {
      [field, value] = [`${sources.file}: ${spec.key}`, fileData[spec.key]];
    } else if (defaults[spec.key] !== undefined) {
      [field, value] = [spec.key, defaults[spec.key]];
    } else continue;
    const parsed = parseWith(spec, value, field);
    out[spec.key] = field.startsWith(`${sources.file}: `) ? fromFileDirectory(spec.key, parsed, sources.file!) : parsed;
    fieldOf[spec.key] = field;
  }
  const o = out as unknown as ProvisionOptions;
  o.mailboxes = [...new Set(o.mailboxes ?? [])];
  if (sources.proofOnly) o.verify = o.sendTo ? 'send' : 'auth';
  if (o.verify === 'send' && !o.sendTo)
    throw new ConfigError('--send-to', 'is required with --verify send (the recipient of the test message)');
  if (o.sendTo && o.verify !== 'send')
    throw new ConfigError(
      fieldOf.sendTo ?? '--send-to',
      `goes with --verify send (the recipient of the test message), but --verify is ${o.verify}; add --verify send or leave --send-to out`,
    );
  if (o.certificateFile && o.credential !== 'certificate')
    throw new ConfigError('--certificate-file', 'goes with --credential certificate');
  if (o.endpoints && sources.flags.cloud !== undefined)
    throw new ConfigError('--cloud', 'cannot be combined with --endpoints (the endpoints file is the cloud profile)');
  checkCombinations(o);
  checkSendAs(o, fieldOf);
  return { options: o, fieldOf };
}

/** Options as given, merged and validated; no requirement of any command is checked here. */
export function resolveOptions(sources: Sources): ProvisionOptions {
  return resolveOptionSources(sources).options;
}

/** Checks what commands that touch a tenant need: a tenant, and mailboxes or a group. */
export function requireTarget(
  o: ProvisionOptions,
  needMailboxes = true,
): asserts o is ProvisionOptions & { tenant: string } {
  if (!o.tenant)
    throw new ConfigError(
      '--tenant',
      'is required: the mailbox tenant, as an id (GUID) or a verified domain such as contoso.onmicrosoft.com',
    );
  if (needMailboxes && o.mailboxes.length === 0 && !o.group)
    throw new ConfigError('--mailbox', 'is required (repeatable), or --group: the mailboxes the app will send as');
}
