/**
 * Output: people read progress on stderr; stdout carries the result (one JSON object with --output json).
 */
import type { ProvisionReport, RunEvent, VerificationReport } from '../provision/index.js';

const SYMBOL: Record<string, string> = {
  created: '+',
  updated: '~',
  unchanged: '=',
  pending: '?',
  failed: '✗',
  skipped: '-',
  waiting: '…',
};

export interface Reporter {
  progress(line: string): void;
  onEvent(e: RunEvent): void;
}

export function stderrReporter(mode: 'plan' | 'apply' | 'status'): Reporter {
  const write = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  return {
    progress: write,
    onEvent(e) {
      if (e.type !== 'end') return;
      const r = e.report;
      const verb =
        mode === 'apply'
          ? r.status
          : r.status === 'pending'
            ? r.action === 'create'
              ? 'will be created'
              : 'will be updated'
            : r.status === 'unchanged'
              ? 'in place'
              : r.status;
      write(
        `  ${SYMBOL[r.status] ?? ' '} ${r.title}: ${verb}${r.status === 'failed' || r.status === 'skipped' || r.status === 'waiting' ? ` — ${r.message}` : ''}`,
      );
      if (mode !== 'apply' || r.status === 'created' || r.status === 'updated')
        for (const c of r.changes)
          write(
            `      ${c.action} ${c.what}${c.to !== undefined && typeof c.to !== 'object' ? ` → ${String(c.to)}` : ''}`,
          );
    },
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function summary(report: ProvisionReport): string[] {
  const lines: string[] = [];
  if (report.application.appId) lines.push(`Application (client) id: ${report.application.appId}`);
  lines.push(`Mailbox tenant id:       ${report.tenant.id}`);
  if (report.credential?.keyId)
    lines.push(
      `Credential:              ${report.credential.type} ${report.credential.keyId}, expires ${report.credential.expires ?? '?'}, in ${report.credential.sink}`,
    );
  for (const n of report.notes) lines.push(`Note: ${n}`);
  return lines;
}

/** The proof's outcome for people: the reply, and for a failure its cause and fix. */
export function proofLines(v: VerificationReport): string[] {
  if (v.status === 'passed')
    return [`  ✓ ${v.reply}${v.mailboxes.length > 1 ? ` (${v.mailboxes.length} mailboxes)` : ''}`];
  if (v.status === 'skipped') return [`  - proof skipped: ${v.reply}`];
  return [`  ✗ ${v.reply}`, ...(v.cause ? [`    Cause: ${v.cause}`] : []), ...(v.fix ? [`    Fix: ${v.fix}`] : [])];
}
