/**
 * `npm run bench`: prints the benchmark results as a table on stderr and one JSON object on stdout.
 * Targets (issue 2): emulator start-up < 1 s; >= 500 Graph requests/s on one core; < 150 MB resident with
 * 100 tenants x 50 mailboxes. CLI: `sendasapp --help` <= 250 ms.
 */
import { spawnSync } from 'node:child_process';
import { CLI, graphThroughput, rssMb, spawnEmulator, writeLargeSeed } from './emulator.js';
import { measureProvisioning } from './provision.js';
import { measurePwsh } from './pwsh.js';
import { fleetParallels, fleetRows, measureFleet } from './fleet.js';
import { MAILBOX_MODES, mailboxRows, measureMailboxes } from './mailboxes.js';

interface Row {
  name: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const rows: Row[] = [];

  const helpTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    spawnSync(process.execPath, [CLI, '--help'], { stdio: 'ignore' });
    helpTimes.push(performance.now() - t);
  }
  rows.push({
    name: 'sendasapp --help (median of 5)',
    value: Math.round(median(helpTimes)),
    unit: 'ms',
    target: '<= 250',
    pass: median(helpTimes) <= 250,
  });

  const starts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const emu = await spawnEmulator();
    starts.push(emu.startMs);
    await emu.stop();
  }
  rows.push({
    name: 'emulator start-up, fresh state dir (median of 3, incl. node start)',
    value: Math.round(median(starts)),
    unit: 'ms',
    target: '< 1000',
    pass: median(starts) < 1000,
  });

  const emu = await spawnEmulator();
  const tp = await graphThroughput(emu, 5, 16);
  rows.push({
    name: `Graph GET servicePrincipals(appId=…) req/s, 16 in flight, 5 s (${tp.errors} errors)`,
    value: tp.perSecond,
    unit: 'req/s',
    target: '>= 500',
    pass: tp.perSecond >= 500 && tp.errors === 0,
  });
  rows.push({
    name: 'emulator RSS, default world, after load',
    value: rssMb(emu.child.pid!),
    unit: 'MB',
    target: 'info',
    pass: true,
  });
  await emu.stop();

  const seed = writeLargeSeed(100, 50);
  const big = await spawnEmulator(['--seed', seed]);
  const tpBig = await graphThroughput(big, 2, 8);
  const rss = rssMb(big.child.pid!);
  rows.push({
    name: 'emulator start-up, 100 tenants x 50 mailboxes',
    value: Math.round(big.startMs),
    unit: 'ms',
    target: 'info',
    pass: true,
  });
  rows.push({
    name: `emulator RSS, 100 tenants x 50 mailboxes, after ${tpBig.requests} requests`,
    value: rss,
    unit: 'MB',
    target: '< 150',
    pass: rss < 150,
  });
  await big.stop();

  for (const mailboxes of [1, 2]) {
    const p = await measureProvisioning(mailboxes);
    const ratio = Math.round((p.fresh.wallMs / p.boundMs) * 100) / 100;
    const graph = p.noop.requests.graph ?? 0;
    const exchange = p.noop.requests.exchange ?? 0;
    rows.push({
      name: `fresh apply, ${mailboxes} mailbox(es), latency profile (bound ${p.boundMs} ms; requests ${JSON.stringify(p.fresh.requests)})`,
      value: p.fresh.wallMs,
      unit: `ms (${ratio} x bound)`,
      target: '<= 1.25 x bound',
      pass: ratio <= 1.25,
    });
    rows.push({
      name: `no-op rerun, ${mailboxes} mailbox(es): wall time (requests ${JSON.stringify(p.noop.requests)})`,
      value: p.noop.wallMs,
      unit: 'ms',
      target: 'info',
      pass: true,
    });
    rows.push({
      name: `no-op rerun, ${mailboxes} mailbox(es): Graph requests`,
      value: graph,
      unit: 'requests',
      target: '<= 4',
      pass: graph <= 4,
    });
    rows.push({
      name: `no-op rerun, ${mailboxes} mailbox(es): Exchange requests`,
      value: exchange,
      unit: 'requests',
      target: `<= ${2 + mailboxes}`,
      pass: exchange <= 2 + mailboxes,
    });
    rows.push({
      name: `no-op rerun, ${mailboxes} mailbox(es): writes`,
      value: p.noop.writes,
      unit: 'writes',
      target: '0',
      pass: p.noop.writes === 0,
    });
  }

  // The pwsh backend beside REST, on the same latency profile (bench/pwsh.ts).
  rows.push(...(await measurePwsh()));

  // Many mailboxes in one tenant (bench/mailboxes.ts).
  for (const mode of MAILBOX_MODES) rows.push(...mailboxRows(await measureMailboxes(mode)));

  // Many tenants in one process (bench/fleet.ts).
  for (const parallel of fleetParallels()) rows.push(...fleetRows(await measureFleet(parallel)));

  for (const r of rows)
    process.stderr.write(`${r.pass ? 'ok  ' : 'MISS'} ${r.name}: ${r.value} ${r.unit} (target ${r.target})\n`);
  process.stdout.write(JSON.stringify({ results: rows }) + '\n');
}

void main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
