/**
 * The in-process test tier: a TenantRun opened in the test's own process against an in-process emulator (no CLI
 * spawn per case). Options go through the same `resolveOptions` + `requireTarget` as the CLI's flags; the result
 * is the run's RunResult, with the progress lines it printed and the slice of the emulator's request log it caused.
 */
import { requireTarget, resolveOptions } from '../../src/config/index.js';
import { TenantRun, type RunHooks, type RunOptions, type RunResult } from '../../src/provision/index.js';
import type { RequestLogEntry } from '../../src/emulator/store.js';
import type { TestEmulator } from './emulator.js';

/** Short first retry delays (the emulator's propagation is quick), for runs whose hooks a test sets itself. */
export const FAST_HOOKS: RunHooks = { proofRetryBaseMs: 200, exchangeReplicationWaitMs: 200, consentPollBaseMs: 200 };

/** Flags as commander gives them (`appName`, `mailbox: [...]`, `secretOut`, …). */
export type RunFlags = Record<string, unknown>;

/** Which phases to run: `plan` alone, or `apply` (planned first), optionally followed by the proof. */
export type Phases = 'plan' | 'apply' | 'prove';

export interface InProcessRun {
  result: RunResult;
  /** Progress lines the run printed (what the CLI shows on stderr). */
  progress: string[];
  /** Every request of the emulator's log that this run caused. */
  log: RequestLogEntry[];
  /** Its write requests (the SMTP proof's sign-in aside). */
  writes: RequestLogEntry[];
}

/** The options of a run, from flags, validated as the CLI validates them (no environment, no config file). */
export function runOptions(emu: TestEmulator, flags: RunFlags): RunOptions {
  // full-access unless the flags say (the mode these tests were written for); 'unset' resolves it from the tenant.
  const o = resolveOptions({
    flags: { endpoints: emu.endpointsFile, verify: 'none', mailboxAccess: 'full-access', ...flags },
    env: {},
  });
  requireTarget(o);
  return o;
}

/** The request-log entries after `seq` (the emulator runs in this process: its store is read directly). */
export function logSince(emu: TestEmulator, seq: number): RequestLogEntry[] {
  return emu.store.log.filter((e) => e.seq > seq);
}

/** The sequence number of the last request the emulator logged (0 when none). */
export function lastSeq(emu: TestEmulator): number {
  return emu.store.log.at(-1)?.seq ?? 0;
}

export function writesOf(log: RequestLogEntry[]): RequestLogEntry[] {
  return log.filter((e) => e.write && e.service !== 'smtp');
}

export interface OpenedRun {
  run: TenantRun;
  progress: string[];
  controller: AbortController;
}

/** Opens a TenantRun for these flags (the caller closes it). */
export async function openRun(
  emu: TestEmulator,
  flags: RunFlags,
  o: { hooks?: RunHooks; controller?: AbortController } = {},
): Promise<OpenedRun> {
  const progress: string[] = [];
  const controller = o.controller ?? new AbortController();
  const run = await TenantRun.open(runOptions(emu, flags), {
    isTty: false,
    progress: (line) => progress.push(line),
    signal: controller.signal,
    // Without hooks of its own, a run takes the pacing of the emulator's endpoints file, as the CLI does.
    hooks: o.hooks,
  });
  return { run, progress, controller };
}

/**
 * Runs one command's worth of a TenantRun: `plan`, or `apply` (its preflight included), then `prove` when asked
 * (and when apply left everything in place). Closes the run.
 */
export async function runTenant(
  emu: TestEmulator,
  flags: RunFlags,
  phase: Phases = 'apply',
  o: { hooks?: RunHooks } = {},
): Promise<InProcessRun> {
  const before = lastSeq(emu);
  const proving = phase === 'prove';
  const { run, progress } = await openRun(emu, proving ? { verify: 'auth', ...flags } : flags, o);
  try {
    let result = phase === 'plan' ? await run.plan() : await run.apply();
    if (proving && result.outcome === 'ok') {
      await run.prove();
      result = run.result();
    }
    const log = logSince(emu, before);
    return { result, progress, log, writes: writesOf(log) };
  } finally {
    await run.close();
  }
}

/** A node's report by key, from the preflight or the resources. */
export function reportOf(r: RunResult, key: string): RunResult['resources'][number] | undefined {
  return [...r.preflight, ...r.resources].find((x) => x.key === key);
}
