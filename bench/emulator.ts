/**
 * Emulator benchmarks: start-up time, Graph throughput on one core, and resident memory with a large seed.
 * The emulator runs in a child process (`sendasapp emulator start`), so its numbers are its own core's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = path.resolve(here, '../cli/main.js');

export interface ChildEmulator {
  child: ChildProcess;
  endpoints: {
    authorityHost: string;
    graphBaseUrl: string;
    caFile: string;
    operator: { tenantId: string; clientId: string; clientSecret: string };
    tenants: Array<{ id: string; domain: string }>;
  };
  /** Milliseconds from spawn to the endpoints line on stdout. */
  startMs: number;
  stop(): Promise<void>;
}

export async function spawnEmulator(args: string[] = []): Promise<ChildEmulator> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'emulator', 'start', '--port', '0', '--output', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const startMs = performance.now() - started;
  return {
    child,
    endpoints: JSON.parse(line),
    startMs,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

export async function operatorToken(emu: ChildEmulator, dispatcher: Agent, scope: string): Promise<string> {
  const e = emu.endpoints;
  const res = await fetch(`${e.authorityHost}/${e.operator.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: e.operator.clientId,
      client_secret: e.operator.clientSecret,
      scope,
    }),
    dispatcher,
  } as RequestInit);
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Sends GET requests with `concurrency` in flight for `seconds`; returns requests per second and error count. */
export async function graphThroughput(
  emu: ChildEmulator,
  seconds: number,
  concurrency: number,
): Promise<{ requests: number; perSecond: number; errors: number }> {
  const dispatcher = new Agent({
    connect: { ca: readFileSync(emu.endpoints.caFile, 'utf8') },
    connections: concurrency,
  });
  const token = await operatorToken(emu, dispatcher, 'https://graph.microsoft.com/.default');
  const url = `${emu.endpoints.graphBaseUrl}/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')?$select=id,appRoles`;
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, dispatcher } as RequestInit);
        await res.arrayBuffer();
        requests += 1;
        if (res.status !== 200) errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await dispatcher.close();
  return { requests, perSecond: Math.round(requests / elapsed), errors };
}

export function writeLargeSeed(tenants: number, mailboxes: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-bench-seed-'));
  const file = path.join(dir, 'seed.json');
  writeFileSync(file, JSON.stringify({ generate: { tenants, mailboxesPerTenant: mailboxes } }));
  return file;
}
