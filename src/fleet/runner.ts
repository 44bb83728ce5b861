/**
 * The fleet runner: tenants run concurrently in one process, at most `parallel` at a time, each on its own (a
 * failure in one never stops the others). `--fail-fast` and a stop signal only keep new tenants from starting; the
 * running ones end on their own terms (each run holds its own cancellation). Results come back in fleet order.
 */
import { isFailure, type FleetOutcome } from './summary.js';

export interface FleetTenantResult {
  outcome: FleetOutcome;
  exitCode: number;
}

export interface RunFleetOptions<E, R extends FleetTenantResult> {
  entries: readonly E[];
  parallel: number;
  failFast?: boolean;
  /** Aborted: no new tenant starts (Ctrl-C, SIGTERM). */
  stop: AbortSignal;
  run(entry: E): Promise<R>;
  /** The result of a run that threw (an error outside the run's own result, e.g. at sign-in). */
  failed(entry: E, err: unknown): R;
  /** The result of an entry that never started, and why. */
  notStarted(entry: E, why: 'fail-fast' | 'stopped'): R;
  onStart?(entry: E): void;
  onEnd?(entry: E, result: R, ms: number): void;
}

export async function runFleet<E, R extends FleetTenantResult>(o: RunFleetOptions<E, R>): Promise<R[]> {
  const results = new Array<R | undefined>(o.entries.length);
  let next = 0;
  let tripped = false;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (o.stop.aborted || tripped) return;
      const i = next++;
      if (i >= o.entries.length) return;
      const entry = o.entries[i]!;
      o.onStart?.(entry);
      const started = performance.now();
      let r: R;
      try {
        r = await o.run(entry);
      } catch (err) {
        r = o.failed(entry, err);
      }
      results[i] = r;
      if (o.failFast && isFailure(r.outcome)) tripped = true;
      o.onEnd?.(entry, r, performance.now() - started);
    }
  };
  const width = Math.max(1, Math.min(o.parallel, o.entries.length));
  await Promise.all(Array.from({ length: width }, worker));
  return o.entries.map((e, i) => results[i] ?? o.notStarted(e, tripped ? 'fail-fast' : 'stopped'));
}
