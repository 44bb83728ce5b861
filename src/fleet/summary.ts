/**
 * A fleet's outcome: the counts of its tenants' outcomes, and the one exit code. Precedence (README, "Many tenants"):
 * interrupted (130 / 143) > 1 any tenant failed (failed, bad input of an entry's tenant, not run) > 3 any waiting
 * (consent, or the proof still waiting for propagation) > 4 changes pending (plan / status with --detailed-exitcode)
 * > 0 all done. Exit 2 is only for a bad fleet input, found before any tenant runs.
 */

/** A tenant's outcome in a fleet: a run's outcome, or `not-started` (stopped by --fail-fast or a signal first). */
export type FleetOutcome =
  'ok' | 'changes-pending' | 'bad-input' | 'failed' | 'waiting' | 'proof-not-passed' | 'interrupted' | 'not-started';

export const FLEET_EXIT = { ok: 0, failed: 1, badFleet: 2, waiting: 3, changesPending: 4 } as const;

/** Whether a tenant's outcome counts as a failure (for --fail-fast and exit 1). */
export function isFailure(outcome: FleetOutcome): boolean {
  return outcome === 'failed' || outcome === 'bad-input';
}

export function countOutcomes(outcomes: readonly FleetOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

/** The fleet's exit code from its tenants' outcomes. */
export function fleetExitCode(
  outcomes: readonly FleetOutcome[],
  o: { signal?: 'SIGINT' | 'SIGTERM'; detailedExitcode?: boolean },
): number {
  if (o.signal) return o.signal === 'SIGINT' ? 130 : 143;
  const has = (...xs: FleetOutcome[]): boolean => outcomes.some((x) => xs.includes(x));
  if (has('failed', 'bad-input', 'not-started', 'interrupted')) return FLEET_EXIT.failed;
  if (has('waiting', 'proof-not-passed')) return FLEET_EXIT.waiting;
  if (o.detailedExitcode && has('changes-pending')) return FLEET_EXIT.changesPending;
  return FLEET_EXIT.ok;
}
