/**
 * Reading the result files of fleet runs: `--output jsonl` (a tenant object per line, then a summary) or
 * `--output json` (one object). Every line is validated against the contract; a malformed one is bad input that
 * names its file and line. Secret-looking fields are dropped on the way in, so nothing downstream can show one.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { fleetJsonSchema, jsonlLineSchema, type FleetJson, type FleetSummary, type TenantEntry } from './schema.js';

/** A result file that does not hold what the contract says, named by file and line: exit 2. */
export class ReportInputError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
    this.name = 'ReportInputError';
  }
}

/** What one file holds. */
export interface ResultFile {
  file: string;
  tenants: TenantEntry[];
  summary?: FleetSummary;
  /** The `command` of the JSON form (JSONL names it only in its summary). */
  command?: string;
}

const SECRET_KEY = /^(secret|clientSecret|client_secret|privateKey|privateKeyPem|password|accessToken|refreshToken)$/i;

/** A copy without any field whose name says it holds a secret, at any depth (results hold none unless asked). */
export function withoutSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutSecrets) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!SECRET_KEY.test(k)) out[k] = withoutSecrets(v);
  return out as T;
}

/** The first problem zod found, as a path and a sentence: `result.outcome: must be one of …`. */
function issueText(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const at = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return `${at ? `${at}: ` : ''}${issue.message}`;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ReportInputError(where, `is not JSON (${(err as Error).message})`);
  }
}

/** The JSON form: `{ command, tenants: [...], summary }`. */
export function parseFleetJson(data: unknown, where: string): FleetJson {
  const parsed = fleetJsonSchema.safeParse(withoutSecrets(data));
  if (!parsed.success) throw new ReportInputError(where, issueText(parsed.error));
  return parsed.data;
}

function fromJsonl(file: string, text: string): ResultFile {
  const out: ResultFile = { file, tenants: [] };
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    const parsed = jsonlLineSchema.safeParse(withoutSecrets(parseJson(line, where)));
    if (!parsed.success) throw new ReportInputError(where, issueText(parsed.error));
    if (out.summary) throw new ReportInputError(where, 'comes after the summary line, which must be the last');
    const { type, ...rest } = parsed.data;
    if (type === 'summary') out.summary = rest as FleetSummary;
    else out.tenants.push(rest as TenantEntry);
  });
  return out;
}

/** Reads one result file, JSONL or JSON (told apart by content, not by name). */
export function readResultFile(file: string): ResultFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReportInputError(
      file,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (text.trim() === '') throw new ReportInputError(file, 'is empty: no tenant results in it');
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    return fromJsonl(file, text);
  }
  // One object with `tenants` is the JSON form; a one-line JSONL file parses whole too, and has a `type`.
  if (whole !== null && typeof whole === 'object' && !Array.isArray(whole) && !('type' in whole)) {
    const json = parseFleetJson(whole, file);
    return { file, tenants: json.tenants, summary: json.summary, command: json.command };
  }
  return fromJsonl(file, text);
}
