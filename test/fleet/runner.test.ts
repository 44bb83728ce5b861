/**
 * The fleet runner and the fleet's exit code: at most --parallel tenants at once, a failure never stops the others,
 * --fail-fast and a stop only keep new tenants from starting, results in fleet order; the exit code's precedence.
 */
import { describe, expect, it } from 'vitest';
import { fleetExitCode, runFleet, type FleetOutcome } from '../../src/fleet/index.js';

interface R {
  outcome: FleetOutcome;
  exitCode: number;
  name: string;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function fleetOf(outcomes: FleetOutcome[]) {
  let running = 0;
  let most = 0;
  const started: string[] = [];
  const entries = outcomes.map((o, i) => ({ name: `t${i}`, o }));
  const run = async (e: { name: string; o: FleetOutcome }): Promise<R> => {
    started.push(e.name);
    running++;
    most = Math.max(most, running);
    for (let i = 0; i < 3; i++) await tick();
    running--;
    if (e.o === 'failed' && e.name.endsWith('throws')) throw new Error('boom');
    return { outcome: e.o, exitCode: e.o === 'ok' ? 0 : 1, name: e.name };
  };
  const common = {
    entries,
    run,
    failed: (e: { name: string }, err: unknown): R => ({
      outcome: 'failed',
      exitCode: 1,
      name: `${e.name}:${String(err)}`,
    }),
    notStarted: (e: { name: string }, why: string): R => ({
      outcome: 'not-started',
      exitCode: 1,
      name: `${e.name}:${why}`,
    }),
  };
  return { common, started, most: () => most };
}

describe('runFleet', () => {
  it('runs at most `parallel` tenants at once and every tenant, failures included, in fleet order', async () => {
    const f = fleetOf(['ok', 'failed', 'ok', 'ok', 'failed', 'ok', 'ok']);
    const results = await runFleet<{ name: string; o: FleetOutcome }, R>({
      ...f.common,
      parallel: 3,
      stop: new AbortController().signal,
    });
    expect(f.most()).toBe(3);
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'failed', 'ok', 'ok', 'failed', 'ok', 'ok']);
    expect(results.map((r) => r.name)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
  });

  it('turns a run that throws into that tenant’s failure, and the others go on', async () => {
    const f = fleetOf(['ok', 'failed', 'ok']);
    f.common.entries[1]!.name = 't1-throws';
    const results = await runFleet<{ name: string; o: FleetOutcome }, R>({
      ...f.common,
      parallel: 2,
      stop: new AbortController().signal,
    });
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'failed', 'ok']);
    expect(results[1]!.name).toBe('t1-throws:Error: boom');
  });

  it('--fail-fast starts no new tenant after a failure; the running ones end; the rest are not-started', async () => {
    const f = fleetOf(['ok', 'failed', 'ok', 'ok', 'ok', 'ok']);
    const results = await runFleet<{ name: string; o: FleetOutcome }, R>({
      ...f.common,
      parallel: 2,
      failFast: true,
      stop: new AbortController().signal,
    });
    expect(results.slice(0, 2).map((r) => r.outcome)).toEqual(['ok', 'failed']);
    const notStarted = results.filter((r) => r.outcome === 'not-started');
    expect(notStarted.length).toBeGreaterThan(0);
    expect(notStarted.every((r) => r.name.endsWith(':fail-fast'))).toBe(true);
    expect(f.started.length).toBe(results.length - notStarted.length);
  });

  it('a stop signal starts nothing new; what never started says it was stopped', async () => {
    const stop = new AbortController();
    const f = fleetOf(['ok', 'ok', 'ok', 'ok', 'ok']);
    const results = await runFleet<{ name: string; o: FleetOutcome }, R>({
      ...f.common,
      parallel: 2,
      stop: stop.signal,
      onStart: (e) => {
        if (e.name === 't1') stop.abort();
      },
    });
    expect(f.started).toEqual(['t0', 't1']);
    expect(results.map((r) => r.name)).toEqual(['t0', 't1', 't2:stopped', 't3:stopped', 't4:stopped']);
  });
});

describe('fleetExitCode', () => {
  it('is 0 all done, 3 any waiting, 1 any failed over waiting, a signal over everything', () => {
    expect(fleetExitCode(['ok', 'ok'], {})).toBe(0);
    expect(fleetExitCode(['ok', 'changes-pending'], {})).toBe(0);
    expect(fleetExitCode(['ok', 'changes-pending'], { detailedExitcode: true })).toBe(4);
    expect(fleetExitCode(['ok', 'waiting', 'changes-pending'], { detailedExitcode: true })).toBe(3);
    expect(fleetExitCode(['ok', 'proof-not-passed'], {})).toBe(3);
    expect(fleetExitCode(['waiting', 'bad-input'], {})).toBe(1);
    expect(fleetExitCode(['waiting', 'failed'], {})).toBe(1);
    expect(fleetExitCode(['ok', 'not-started'], {})).toBe(1);
    expect(fleetExitCode(['ok', 'failed'], { signal: 'SIGINT' })).toBe(130);
    expect(fleetExitCode(['ok'], { signal: 'SIGTERM' })).toBe(143);
    expect(fleetExitCode([], {})).toBe(0);
  });
});
