/**
 * Fleet benchmark (issue 12): 100 tenants × 2 mailboxes, a fresh `apply --fleet` in one process against the emulator
 * with the latency profile of bench/provision.ts, then the no-op rerun. Reports the wall time against
 * 1.5 × ceil(100 / parallel) × the single-tenant critical path, the CPU time per tenant and the peak RSS of the fleet
 * process, and the requests per tenant of the rerun (target ≤ 4 Graph, ≤ 3 Exchange, no write).
 * Each run is a child process of its own (`node dist/bench/fleet.js run …`), so that its CPU and peak RSS are its own.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { stringify } from 'yaml';
import { spawnEmulator, type ChildEmulator } from './emulator.js';
import { LATENCY, criticalPathMs } from './provision.js';

export const FLEET_TENANTS = 100;

interface LogEntry {
  service: string;
  path: string;
  write: boolean;
  tenantId?: string;
}

interface RunMeasure {
  exitCode: number;
  wallMs: number;
  cpuMs: number;
  /** The emulator's CPU time meanwhile (its own process): what the services cost on this machine. */
  emulatorCpuMs?: number;
  maxRssMb: number;
  counts: Record<string, number>;
}

export interface FleetMeasure {
  parallel: number;
  tenants: number;
  boundMs: number;
  fresh: RunMeasure;
  noop: RunMeasure & {
    graphPerTenant: { mean: number; max: number };
    exchangePerTenant: { mean: number; max: number };
    writes: number;
  };
}

/** One fleet run in this process, measured (the child side). */
async function runHere(fleetFile: string, parallel: string): Promise<RunMeasure> {
  const { fleetCommand } = await import('../src/cli/fleet-command.js');
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let exitCode: number;
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|SENDASAPP_)/.test(k)));
    exitCode = await fleetCommand('apply', { fleet: fleetFile, output: 'jsonl', yes: true, parallel }, env);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  const wallMs = Math.round(performance.now() - t0);
  const cpu = process.cpuUsage(cpu0);
  const summary = JSON.parse(out.join('').trim().split('\n').at(-1)!) as { counts: Record<string, number> };
  return {
    exitCode,
    wallMs,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
    counts: summary.counts,
  };
}

function runChild(fleetFile: string, parallel: number): Promise<RunMeasure> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'run', fleetFile, String(parallel)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(stdout) as RunMeasure);
      } catch {
        reject(new Error(`fleet bench run exited ${code}: ${stdout.slice(0, 500)}`));
      }
    });
  });
}

async function control(emu: ChildEmulator, dispatcher: Agent, method: 'GET' | 'DELETE'): Promise<LogEntry[]> {
  const e = emu.endpoints as ChildEmulator['endpoints'] & { controlUrl: string };
  const res = await fetch(`${e.controlUrl}/log`, {
    method,
    headers: { 'X-Emulator-Key': e.operator.clientSecret },
    dispatcher,
  } as RequestInit);
  return method === 'GET' ? ((await res.json()) as { value: LogEntry[] }).value : [];
}

/** A process's CPU time so far (user + system), from /proc. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function perTenant(log: LogEntry[], service: string, tenants: string[]): { mean: number; max: number } {
  const n = new Map<string, number>(tenants.map((t) => [t, 0]));
  // Requests on the wire: a $batch counts once, its items (`…#item`) not again.
  for (const e of log)
    if (e.service === service && !e.path.endsWith('#item') && e.tenantId && n.has(e.tenantId))
      n.set(e.tenantId, n.get(e.tenantId)! + 1);
  const values = [...n.values()];
  return {
    mean: Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100,
    max: Math.max(...values),
  };
}

export async function measureFleet(parallel: number, tenants = FLEET_TENANTS): Promise<FleetMeasure> {
  const latency = `graph=${LATENCY.graph},token=${LATENCY.token},exchange=${LATENCY.exchange},smtp=${LATENCY.smtp}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-bench-fleet-'));
  const seed = path.join(dir, 'seed.json');
  writeFileSync(seed, JSON.stringify({ generate: { tenants, mailboxesPerTenant: 2 } }));
  const emu = await spawnEmulator(['--latency', latency, '--seed', seed, '--state-dir', path.join(dir, 'emu')]);
  const dispatcher = new Agent({ connect: { ca: readFileSync(emu.endpoints.caFile, 'utf8') } });
  try {
    mkdirSync(path.join(dir, 'secrets'));
    const fleetFile = path.join(dir, 'fleet.yaml');
    writeFileSync(
      fleetFile,
      stringify({
        defaults: {
          endpoints: path.join(dir, 'emu', 'endpoints.json'),
          appName: 'Bench Fleet',
          enableSmtpAuth: 'mailbox',
          wait: '2m',
          exchange: 'rest',
        },
        tenants: emu.endpoints.tenants.map((t, i) => ({
          name: `customer-${i + 1}`,
          tenant: t.domain,
          mailboxes: [`admin@${t.domain}`, `user1@${t.domain}`],
          secretOut: `secrets/${i + 1}.json`,
        })),
      }),
    );
    await control(emu, dispatcher, 'DELETE');
    const cpuBefore = processCpuMs(emu.child.pid!);
    const fresh = await runChild(fleetFile, parallel);
    fresh.emulatorCpuMs = processCpuMs(emu.child.pid!) - cpuBefore;
    if (fresh.exitCode !== 0)
      throw new Error(`fresh fleet apply ended ${fresh.exitCode}: ${JSON.stringify(fresh.counts)}`);
    await control(emu, dispatcher, 'DELETE');
    const noopBefore = processCpuMs(emu.child.pid!);
    const noop = await runChild(fleetFile, parallel);
    noop.emulatorCpuMs = processCpuMs(emu.child.pid!) - noopBefore;
    const log = await control(emu, dispatcher, 'GET');
    const ids = emu.endpoints.tenants.map((t) => t.id);
    return {
      parallel,
      tenants,
      boundMs: Math.round(1.5 * Math.ceil(tenants / parallel) * criticalPathMs()),
      fresh,
      noop: {
        ...noop,
        graphPerTenant: perTenant(log, 'graph', ids),
        exchangePerTenant: perTenant(log, 'exchange', ids),
        writes: log.filter((e) => e.write && (e.service === 'graph' || e.service === 'exchange')).length,
      },
    };
  } finally {
    await dispatcher.close();
    await emu.stop();
  }
}

if (process.argv[2] === 'run' && process.argv[1] === fileURLToPath(import.meta.url)) {
  void runHere(process.argv[3]!, process.argv[4]!).then(
    (m) => {
      process.stdout.write(JSON.stringify(m));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`fleet bench run failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

/** The parallel widths to measure: SENDASAPP_BENCH_FLEET_PARALLEL (comma-separated), default the CLI's default. */
export function fleetParallels(env: NodeJS.ProcessEnv = process.env): number[] {
  const given = env.SENDASAPP_BENCH_FLEET_PARALLEL;
  return given ? given.split(',').map((s) => Number(s.trim())) : [8];
}

/** The rows of `npm run bench` for one measure. */
export function fleetRows(
  m: FleetMeasure,
): Array<{ name: string; value: number; unit: string; target: string; pass: boolean }> {
  const at = `${m.tenants} tenants x 2 mailboxes, --parallel ${m.parallel}`;
  const cpuPerTenant = Math.round(m.fresh.cpuMs / m.tenants);
  return [
    {
      name: `fleet fresh apply, ${at}, one process (bound 1.5 x ceil(${m.tenants}/${m.parallel}) x ${criticalPathMs()} ms = ${m.boundMs} ms)`,
      value: m.fresh.wallMs,
      unit: `ms (${Math.round((m.fresh.wallMs / m.boundMs) * 100) / 100} x bound)`,
      target: `<= ${m.boundMs}`,
      pass: m.fresh.wallMs <= m.boundMs,
    },
    {
      name: `fleet fresh apply, ${at}: CPU per tenant (the emulator's meanwhile: ${Math.round((m.fresh.emulatorCpuMs ?? 0) / m.tenants)} ms per tenant)`,
      value: cpuPerTenant,
      unit: 'ms',
      target: '<= 300',
      pass: cpuPerTenant <= 300,
    },
    {
      name: `fleet fresh apply, ${at}: peak RSS`,
      value: m.fresh.maxRssMb,
      unit: 'MB',
      target: '<= 350',
      pass: m.fresh.maxRssMb <= 350,
    },
    { name: `fleet no-op rerun, ${at}: wall time`, value: m.noop.wallMs, unit: 'ms', target: 'info', pass: true },
    {
      name: `fleet no-op rerun, ${at}: Graph requests per tenant (mean ${m.noop.graphPerTenant.mean})`,
      value: m.noop.graphPerTenant.max,
      unit: 'requests (max)',
      target: '<= 4',
      pass: m.noop.graphPerTenant.max <= 4,
    },
    {
      name: `fleet no-op rerun, ${at}: Exchange requests per tenant (mean ${m.noop.exchangePerTenant.mean})`,
      value: m.noop.exchangePerTenant.max,
      unit: 'requests (max)',
      target: '<= 3',
      pass: m.noop.exchangePerTenant.max <= 3,
    },
    {
      name: `fleet no-op rerun, ${at}: writes`,
      value: m.noop.writes,
      unit: 'writes',
      target: '0',
      pass: m.noop.writes === 0,
    },
  ];
}
