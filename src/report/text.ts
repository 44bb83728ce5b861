/**
 * The merged report for the terminal (`fleet report` without --output json) and as one JSON object (with it): the
 * JSON has the shape of a fleet run's `--output json`, so it can be read again by `fleet report`.
 */
import { orderedCounts } from './html.js';
import type { FleetReport } from './merge.js';
import type { TenantRow } from './rows.js';

const MARK: Record<string, string> = { ok: '✓', 'changes-pending': '~', waiting: '…', 'proof-not-passed': '…' };

/** The summary, then one line per tenant that is not ok with its first problem and fix. */
export function summaryLines(report: FleetReport, rows: TenantRow[]): string[] {
  const s = report.summary;
  const counts = orderedCounts(s.counts)
    .map(([o, n]) => `${n} ${o}`)
    .join(', ');
  const lines = [
    `Fleet report (${s.command}): ${s.tenants} tenant(s) from ${s.files.length} file(s)${s.shards.length ? `, shards ${s.shards.join(', ')}` : ''}: ${counts || 'none'}. Exit code ${s.exitCode}.`,
  ];
  for (const r of rows) {
    const expiring = r.credentials.filter((c) => c.warning);
    const p = r.problems[0];
    const why = p ? ` — ${p.what}${p.fix ? `. Fix: ${p.fix}` : ''}` : '';
    if (r.outcome !== 'ok' || expiring.length > 0)
      lines.push(
        `  ${MARK[r.outcome] ?? '✗'} ${r.name} (${r.tenant}): ${r.outcome}${why}` +
          (expiring.length
            ? `; credential ends ${expiring.map((c) => `${c.expires.slice(0, 10)} (${c.daysLeft} d)`).join(', ')}`
            : ''),
      );
  }
  return lines;
}

/** One object with every tenant, the merged summary and the warnings. */
export function reportJson(report: FleetReport): Record<string, unknown> {
  const s = report.summary;
  return {
    command: s.command,
    tenants: report.tenants.map((t) => t.entry),
    summary: {
      command: s.command,
      tenants: s.tenants,
      counts: s.counts,
      exitCode: s.exitCode,
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
      shards: s.shards,
      files: s.files,
    },
    warnings: report.warnings,
  };
}
