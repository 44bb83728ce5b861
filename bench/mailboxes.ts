/**
 * Many mailboxes in one tenant (issue 12): a fresh `apply` of one tenant with 1 mailbox and with 50, REST backend,
 * on the latency profile of bench/provision.ts, in full-access and in rbac mode. Reports both wall times, their ratio
 * (target ≤ 1.3) and the Graph/Exchange requests (and Exchange writes) of each run, from the emulator's request log.
 * Each run gets a fresh emulator, so every apply is a fresh one.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { spawnEmulator } from './emulator.js';
import { LATENCY, clearLog, controlLog, count, runApply } from './provision.js';

export const MANY_MAILBOXES = 50;
export const MAILBOX_MODES = ['full-access', 'rbac'] as const;

export interface MailboxRun {
  mailboxes: number;
  wallMs: number;
  requests: Record<string, number>;
  exchangeWrites: number;
}

/** One fresh apply of a one-tenant world holding MANY_MAILBOXES mailboxes, for the first `mailboxes` of them. */
async function freshApply(mode: string, mailboxes: number): Promise<MailboxRun> {
  const latency = `graph=${LATENCY.graph},token=${LATENCY.token},exchange=${LATENCY.exchange},smtp=${LATENCY.smtp}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-bench-mailboxes-'));
  const seed = path.join(dir, 'seed.json');
  writeFileSync(seed, JSON.stringify({ generate: { tenants: 1, mailboxesPerTenant: MANY_MAILBOXES } }));
  const emu = await spawnEmulator(['--latency', latency, '--seed', seed, '--state-dir', path.join(dir, 'emu')]);
  const dispatcher = new Agent({ connect: { ca: readFileSync(emu.endpoints.caFile, 'utf8') } });
  try {
    const domain = emu.endpoints.tenants[0]!.domain;
    const boxes = ['admin', ...Array.from({ length: MANY_MAILBOXES - 1 }, (_, k) => `user${k + 1}`)]
      .slice(0, mailboxes)
      .map((m) => `${m}@${domain}`);
    const args = [
      '--endpoints',
      path.join(dir, 'emu', 'endpoints.json'),
      '--tenant',
      domain,
      ...boxes.flatMap((m) => ['--mailbox', m]),
      '--mailbox-access',
      mode,
      '--exchange',
      'rest',
      '--enable-smtp-auth',
      'mailbox',
      '--secret-out',
      path.join(dir, 'secret.json'),
      '--wait',
      '2m',
      '--yes',
    ];
    await clearLog(emu, dispatcher);
    const run = await runApply(args);
    if (run.code !== 0) throw new Error(`fresh apply (${mode}, ${mailboxes}) failed (${run.code}):\n${run.stderr}`);
    const log = await controlLog(emu, dispatcher);
    if (process.env.SENDASAPP_BENCH_DEBUG)
      for (const e of log)
        if (process.env.SENDASAPP_BENCH_DEBUG === 'all' || (e as { status?: number }).status === 429)
          process.stderr.write(JSON.stringify(e) + '\n');
    return {
      mailboxes,
      wallMs: run.ms,
      requests: count(log),
      exchangeWrites: log.filter((e) => e.write && e.service === 'exchange' && !e.path.endsWith('$batch')).length,
    };
  } finally {
    await dispatcher.close();
    await emu.stop();
  }
}

export interface MailboxesMeasure {
  mode: string;
  one: MailboxRun;
  many: MailboxRun;
  ratio: number;
}

export async function measureMailboxes(mode: string): Promise<MailboxesMeasure> {
  const one = await freshApply(mode, 1);
  const many = await freshApply(mode, MANY_MAILBOXES);
  return { mode, one, many, ratio: Math.round((many.wallMs / one.wallMs) * 100) / 100 };
}

/** The rows of `npm run bench` for one mode. */
export function mailboxRows(
  m: MailboxesMeasure,
): Array<{ name: string; value: number; unit: string; target: string; pass: boolean }> {
  const req = (r: MailboxRun) =>
    `Graph ${r.requests.graph ?? 0}, Exchange ${r.requests.exchange ?? 0} (${r.exchangeWrites} writes)`;
  return [
    {
      name: `fresh apply, 1 mailbox, --mailbox-access ${m.mode}, REST (requests: ${req(m.one)})`,
      value: m.one.wallMs,
      unit: 'ms',
      target: 'info',
      pass: true,
    },
    {
      name: `fresh apply, ${MANY_MAILBOXES} mailboxes, --mailbox-access ${m.mode}, REST (requests: ${req(m.many)}), ratio to 1 mailbox`,
      value: m.ratio,
      unit: `x (${m.many.wallMs} ms)`,
      target: '<= 1.3',
      pass: m.ratio <= 1.3,
    },
  ];
}
