/**
 * Provisioning benchmark (issue 3): against the emulator with latency Graph 120 ms, token 150 ms, Exchange 600 ms,
 * SMTP 300 ms per reply, the wall time and request counts of a fresh apply and of a no-op rerun, next to the
 * critical-path lower bound computed from the same latencies.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { CLI, spawnEmulator, type ChildEmulator } from './emulator.js';

export const LATENCY = { graph: 120, token: 150, exchange: 600, smtp: 300 };
/** Replies an XOAUTH2 login waits for: greeting, EHLO, STARTTLS, EHLO (after TLS), AUTH. */
export const SMTP_REPLIES_PER_LOGIN = 5;

/**
 * The shortest chain of dependent requests any correct tool needs for a fresh apply that checks before it writes
 * (reads that must precede a write are counted once, parallel branches take their longest):
 * sign-in metadata → operator token → the preflight (app read ∥ Exchange Online role read ∥ the Exchange reads:
 * accepted domains, mailboxes, SMTP AUTH settings) → app upsert → service principal → max(consent,
 * New-ServicePrincipal → Add-MailboxPermission) → SMTP login. The app's own token is not on it: it is fetched
 * while the Exchange steps run.
 */
export function criticalPathMs(l = LATENCY): number {
  return (
    l.token +
    l.token +
    Math.max(l.graph, l.exchange) +
    l.graph +
    l.graph +
    Math.max(l.graph, l.exchange + l.exchange) +
    SMTP_REPLIES_PER_LOGIN * l.smtp
  );
}

export interface LogEntry {
  service: string;
  path: string;
  write: boolean;
  method: string;
  cmdlet?: string;
}

export async function controlLog(emu: ChildEmulator, dispatcher: Agent): Promise<LogEntry[]> {
  const e = emu.endpoints as ChildEmulator['endpoints'] & { controlUrl: string };
  const res = await fetch(`${e.controlUrl}/log`, {
    headers: { 'X-Emulator-Key': e.operator.clientSecret },
    dispatcher,
  } as RequestInit);
  return ((await res.json()) as { value: LogEntry[] }).value;
}

export async function clearLog(emu: ChildEmulator, dispatcher: Agent): Promise<void> {
  const e = emu.endpoints as ChildEmulator['endpoints'] & { controlUrl: string };
  await fetch(`${e.controlUrl}/log`, {
    method: 'DELETE',
    headers: { 'X-Emulator-Key': e.operator.clientSecret },
    dispatcher,
  } as RequestInit);
}

export function runApply(args: string[]): Promise<{ code: number | null; ms: number; stderr: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'apply', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, ms: Math.round(performance.now() - started), stderr }));
  });
}

export interface ApplyMeasure {
  wallMs: number;
  exitCode: number | null;
  requests: Record<string, number>;
  writes: number;
}

export function count(log: LogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  // Requests on the wire: a $batch counts once, its items (logged as `…#item`) not again.
  for (const e of log) if (!e.path.endsWith('#item')) out[e.service] = (out[e.service] ?? 0) + 1;
  return out;
}

export async function measureProvisioning(
  mailboxes: number,
): Promise<{ fresh: ApplyMeasure; noop: ApplyMeasure; boundMs: number; endpointsFile: string }> {
  const latency = `graph=${LATENCY.graph},token=${LATENCY.token},exchange=${LATENCY.exchange},smtp=${LATENCY.smtp}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-bench-'));
  const emu = await spawnEmulator(['--latency', latency, '--state-dir', path.join(dir, 'emu')]);
  const dispatcher = new Agent({ connect: { ca: readFileSync(emu.endpoints.caFile, 'utf8') } });
  try {
    const endpointsFile = path.join(dir, 'emu', 'endpoints.json');
    const domain = emu.endpoints.tenants[0]!.domain;
    const boxes = ['scanner', 'ap', 'it', 'admin'].slice(0, mailboxes).map((m) => `${m}@${domain}`);
    const args = [
      '--endpoints',
      endpointsFile,
      '--tenant',
      domain,
      ...boxes.flatMap((m) => ['--mailbox', m]),
      '--enable-smtp-auth',
      'mailbox',
      '--secret-out',
      path.join(dir, 'secret.json'),
      '--wait',
      '2m',
      '--yes',
    ];
    await clearLog(emu, dispatcher);
    const first = await runApply(args);
    if (first.code !== 0) throw new Error(`fresh apply failed (${first.code}):\n${first.stderr}`);
    const freshLog = await controlLog(emu, dispatcher);
    await clearLog(emu, dispatcher);
    const second = await runApply(args);
    if (second.code !== 0) throw new Error(`no-op apply failed (${second.code}):\n${second.stderr}`);
    const noopLog = await controlLog(emu, dispatcher);
    const writes = (log: LogEntry[]) =>
      log.filter((e) => e.write && (e.service === 'graph' || e.service === 'exchange')).length;
    return {
      fresh: { wallMs: first.ms, exitCode: first.code, requests: count(freshLog), writes: writes(freshLog) },
      noop: { wallMs: second.ms, exitCode: second.code, requests: count(noopLog), writes: writes(noopLog) },
      boundMs: criticalPathMs(),
      endpointsFile,
    };
  } finally {
    await dispatcher.close();
    await emu.stop();
  }
}
