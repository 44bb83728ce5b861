/**
 * The Markdown report, for pasting into a ticket: the summary (counts per outcome, exit code, what the input lacked)
 * and one table row per tenant. Cells are escaped for tables and for trackers that render HTML inside Markdown.
 */
import { orderedCounts } from './html.js';
import type { FleetReport } from './merge.js';
import { reportAsOf, reportRows, type RowOptions } from './rows.js';

/** A table cell: no line break, no pipe, no HTML, no emphasis, link or code span of the value's own. */
export function mdCell(value: string): string {
  return value
    .replace(/[\\`*_[\]]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ')
    .trim();
}

export function renderMarkdown(
  report: FleetReport,
  o: Partial<RowOptions> & { expiryWarningText?: string } = {},
): string {
  const asOf = o.asOf ?? reportAsOf(report);
  const rows = reportRows(report, { ...o, asOf });
  const s = report.summary;
  const lines = [
    `## sendasapp fleet report: ${mdCell(s.command)}`,
    '',
    `${s.tenants} tenant(s), exit code ${s.exitCode}, as of ${new Date(asOf).toISOString().slice(0, 16).replace('T', ' ')} UTC` +
      `${s.shards.length ? `, shards ${s.shards.join(', ')}` : ''}.`,
    '',
    '| outcome | tenants |',
    '| --- | ---: |',
    ...orderedCounts(s.counts).map(([outcome, n]) => `| ${mdCell(outcome)} | ${n} |`),
    '',
    ...(report.warnings.length ? [...report.warnings.map((w) => `- ${mdCell(w)}`), ''] : []),
    '| tenant | status | app (mode) | mailboxes | SMTP AUTH | proof | credential expiry | problem and fix |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const expiry = r.credentials
        .map(
          (c) =>
            `${c.warning ? '**⚠ ' : ''}${c.expires.slice(0, 10)} (${c.daysLeft < 0 ? `ended ${-c.daysLeft} d ago` : `${c.daysLeft} d left`})${c.warning ? `, within ${o.expiryWarningText ?? '30d'}**` : ''}`,
        )
        .join('; ');
      // Dates, days and the window are the report's own words: only the values from the results are escaped.
      const problems = r.problems.map((p) => `${p.what}${p.fix ? `. Fix: ${p.fix}` : ''}`).join(' / ');
      return `| ${[
        `${r.name} (${r.tenant}${r.shard ? `, shard ${r.shard}` : ''})`,
        r.outcome,
        `${r.app || '—'} (${r.mode ?? 'mode unknown'})`,
        r.mailboxes.join(', ') || '—',
        r.smtpAuth,
        `${r.proof.status}: ${r.proof.reply}`,
      ]
        .map(mdCell)
        .concat(expiry || 'none', mdCell(problems) || '—')
        .join(' | ')} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
