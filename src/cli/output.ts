/**
 * Output. stdout carries the result — the plan, the status table, the summary; with --output json exactly one JSON
 * object — and stderr the progress of a run, prompts and logs.
 */
import type { NodeReport, RunEvent, RunResult, VerificationReport } from '../provision/index.js';

const SYMBOL: Record<string, string> = {
  created: '+',
  updated: '~',
  deleted: '-',
  unchanged: '=',
  pending: '?',
  passed: '✓',
  failed: '✗',
  skipped: '-',
  waiting: '…',
};

export const say = (line = ''): void => void process.stderr.write(`${line}\n`);
export const result = (line = ''): void => void process.stdout.write(`${line}\n`);

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** The verb of a node's status, as plan or apply says it. */
function verb(r: NodeReport, phase: 'plan' | 'apply'): string {
  if (r.status === 'pending')
    return r.kind === 'check'
      ? 'checked after the changes'
      : r.action === 'create'
        ? 'will be created'
        : r.action === 'delete'
          ? 'will be removed'
          : 'will be updated';
  if (r.status === 'unchanged') return phase === 'plan' ? 'in place' : 'unchanged';
  if (r.status === 'passed') return 'ok';
  return r.status;
}

/** One node's lines: its status, then its changes (plan: pending ones; apply: those it made). */
export function nodeLines(r: NodeReport, phase: 'plan' | 'apply'): string[] {
  const why = r.status === 'failed' || r.status === 'skipped' || r.status === 'waiting' ? ` — ${r.message ?? ''}` : '';
  const lines = [`  ${SYMBOL[r.status] ?? ' '} ${r.title}: ${verb(r, phase)}${why}`];
  const show = phase === 'plan' ? r.status === 'pending' : ['created', 'updated', 'deleted'].includes(r.status);
  if (show)
    for (const c of r.changes)
      lines.push(`      ${c.action === 'create' ? '+' : c.action === 'delete' ? '-' : '~'} ${c.what}`);
  return lines;
}

/** The plan as people read it: the failed checks, then every resource with what would change. */
export function planLines(r: RunResult): string[] {
  const lines: string[] = [];
  const failedChecks = r.preflight.filter((p) => p.status === 'failed');
  for (const p of failedChecks) lines.push(...nodeLines(p, 'plan'));
  for (const n of r.resources) lines.push(...nodeLines(n, 'plan'));
  for (const p of r.preflight.filter((x) => x.status === 'pending')) lines.push(...nodeLines(p, 'plan'));
  if (r.failure) lines.push(`Nothing can be changed until this is fixed: ${r.failure.message}`);
  else
    lines.push(
      r.pending === 0
        ? 'Nothing to change.'
        : `${r.pending} resource(s) to change. Run \`sendasapp apply\` with the same options.`,
    );
  return lines;
}

/** A run's progress for people, on stderr: each node as it ends (apply), with its changes. */
export function progressReporter(phase: 'plan' | 'apply', write: (line: string) => void = say): (e: RunEvent) => void {
  return (e) => {
    if (e.type !== 'end' || e.phase !== phase) return;
    if (e.report.kind !== 'managed' && e.report.status !== 'failed') return;
    for (const l of nodeLines(e.report, phase)) write(l);
  };
}

export function summaryLines(r: RunResult): string[] {
  const lines: string[] = [];
  if (r.application.appId) lines.push(`Application (client) id: ${r.application.appId}`);
  lines.push(`Mailbox tenant id:       ${r.tenant.id}`);
  if (r.credential?.keyId)
    lines.push(
      `Credential:              ${r.credential.type} ${r.credential.keyId}, expires ${r.credential.expires ?? '?'}, in ${r.credential.sink}`,
    );
  for (const n of r.notes) lines.push(`Note: ${n.text}`);
  return lines;
}

/** The proof's outcome for people: the reply, and for a failure its cause and fix. */
export function proofLines(v: VerificationReport): string[] {
  if (v.status === 'passed')
    return [
      `  ✓ ${v.reply}${v.mailboxes.length > 1 ? ` (${v.mailboxes.length} mailboxes)` : ''}`,
      ...(v.sendAs ? [`  ✓ From ${v.sendAs.from} through ${v.sendAs.account} (SendAs): ${v.sendAs.reply}`] : []),
    ];
  if (v.status === 'skipped') return [`  - proof skipped: ${v.reply}`];
  return [`  ✗ ${v.reply}`, ...(v.cause ? [`    Cause: ${v.cause}`] : []), ...(v.fix ? [`    Fix: ${v.fix}`] : [])];
}
