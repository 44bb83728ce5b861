/**
 * Merging the result files of one fleet (one run's file, or the shards of a sharded run, or a shard run again):
 * one result per fleet entry, the latest when an entry was run twice, counts and the exit code recomputed from
 * what is kept, and a sentence for everything that looks incomplete.
 */
import type { ResultFile } from './read.js';
import type { TenantEntry } from './schema.js';

/** A tenant of the merged report, with the file it came from and when its run ended (when known). */
export interface ReportTenant {
  entry: TenantEntry;
  outcome: string;
  file: string;
  finishedAt?: string;
}

export interface ReportSummary {
  command: string;
  tenants: number;
  counts: Record<string, number>;
  exitCode: number;
  startedAt?: string;
  finishedAt?: string;
  shards: string[];
  files: string[];
}

export interface FleetReport {
  tenants: ReportTenant[];
  summary: ReportSummary;
  /** Sentences about the input: duplicates, missing summaries, counts that do not add up. */
  warnings: string[];
}

/** The outcome of a tenant: its result's, or (an error object without one) what its exit code means. */
export function outcomeOf(entry: TenantEntry): string {
  if (entry.result.outcome) return entry.result.outcome;
  if (entry.exitCode === 0) return 'ok';
  if (entry.exitCode === 2) return 'bad-input';
  if (entry.exitCode === 3) return 'waiting';
  if (entry.exitCode === 130 || entry.exitCode === 143) return 'interrupted';
  return 'failed';
}

const FAILED = new Set(['failed', 'bad-input', 'interrupted']);
const WAITING = new Set(['waiting', 'proof-not-passed']);

/** A fleet's exit code, as a fleet run gives it: 1 when any tenant failed, else 3 when any waits, else 0. */
export function fleetExitCode(outcomes: Iterable<string>): number {
  const all = [...outcomes];
  if (all.some((o) => FAILED.has(o))) return 1;
  if (all.some((o) => WAITING.has(o))) return 3;
  return 0;
}

const later = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined ? Date.parse(a) > Date.parse(b) : false;

/** Keeps the later of two results of one entry: by finishedAt, else the file given later. */
function pick(kept: ReportTenant, next: ReportTenant, warnings: string[]): ReportTenant {
  const known = kept.finishedAt !== undefined && next.finishedAt !== undefined;
  const winner = !known || !later(kept.finishedAt, next.finishedAt) ? next : kept;
  const why = !known
    ? 'one of them has no finishedAt, so the file given later wins'
    : Date.parse(kept.finishedAt!) === Date.parse(next.finishedAt!)
      ? `both finished at ${next.finishedAt}, so the file given later wins`
      : `it finished later (${winner.finishedAt})`;
  warnings.push(
    `tenant "${next.entry.name}" is in ${kept.file} and in ${next.file}: kept the result of ${winner.file}, as ${why}.`,
  );
  return winner;
}

const minOf = (xs: string[]): string | undefined =>
  xs.length === 0 ? undefined : xs.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
const maxOf = (xs: string[]): string | undefined =>
  xs.length === 0 ? undefined : xs.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));

function fileWarnings(f: ResultFile): string[] {
  if (!f.summary)
    return [
      `${f.file} has no summary line: its run may have stopped before the end (${f.tenants.length} tenant result(s) read from it).`,
    ];
  if (f.summary.tenants !== f.tenants.length)
    return [`${f.file}: its summary counts ${f.summary.tenants} tenant(s) but it holds ${f.tenants.length}.`];
  return [];
}

/** One report from several files; tenants in name order, so that shards and one run give the same report. */
export function mergeResults(files: ResultFile[]): FleetReport {
  const warnings: string[] = [];
  const byName = new Map<string, ReportTenant>();
  for (const f of files) {
    warnings.push(...fileWarnings(f));
    for (const entry of f.tenants) {
      const t: ReportTenant = {
        entry,
        outcome: outcomeOf(entry),
        file: f.file,
        finishedAt: entry.finishedAt ?? f.summary?.finishedAt,
      };
      const kept = byName.get(entry.name);
      byName.set(entry.name, kept ? pick(kept, t, warnings) : t);
    }
  }
  const tenants = [...byName.values()].sort((a, b) => a.entry.name.localeCompare(b.entry.name, 'en'));
  const commands = [
    ...new Set(
      files.map((f) => f.summary?.command ?? f.command ?? tenants.find((t) => t.file === f.file)?.entry.result.command),
    ),
  ].filter((c): c is string => typeof c === 'string');
  if (commands.length > 1) warnings.push(`the files come from different commands (${commands.join(', ')}).`);
  const counts: Record<string, number> = {};
  for (const t of tenants) counts[t.outcome] = (counts[t.outcome] ?? 0) + 1;
  const summaries = files.flatMap((f) => (f.summary ? [f.summary] : []));
  return {
    tenants,
    summary: {
      command: commands.join('+') || 'fleet',
      tenants: tenants.length,
      counts,
      exitCode: fleetExitCode(tenants.map((t) => t.outcome)),
      startedAt: minOf(summaries.flatMap((s) => (s.startedAt ? [s.startedAt] : []))),
      finishedAt: maxOf(summaries.flatMap((s) => (s.finishedAt ? [s.finishedAt] : []))),
      shards: [...new Set(summaries.flatMap((s) => (s.shard ? [s.shard] : [])))].sort(),
      files: files.map((f) => f.file),
    },
    warnings,
  };
}
