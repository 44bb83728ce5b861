/**
 * The resource model (DESIGN.md): every provisioning step reads the tenant, diffs against what is desired, and
 * applies only the difference. Resources find the results of their dependencies in the run's state.
 */

export type ChangeAction = 'create' | 'update' | 'delete';

export interface Change {
  action: ChangeAction;
  /** What changes, e.g. 'requiredResourceAccess' or 'FullAccess for ap@contoso.com'. Never a secret value. */
  what: string;
  from?: unknown;
  to?: unknown;
}

/** Where a resource stands after read (plan) or apply. */
export type ResourceStatus = 'unchanged' | 'pending' | 'created' | 'updated' | 'failed' | 'skipped' | 'waiting';

export interface Resource<Current = unknown> {
  key: string;
  /** A line for people: 'Application "SMTP OAuth sender"'. */
  title: string;
  dependsOn: string[];
  /**
   * Reads the current state. Never guesses: an authorization error is an error, not "absent". May return
   * undefined when a dependency does not exist yet (nothing to read).
   */
  read(run: RunState): Promise<Current | undefined>;
  /** Pure: what would change to get from current to desired. */
  diff(current: Current | undefined, run: RunState): Change[];
  /** Carries out the changes and returns the new current state. */
  apply(run: RunState, changes: Change[], current: Current | undefined): Promise<Current>;
}

/** What resources of one run share: results of read/apply by key, plus notes for the report. */
export interface RunState {
  results: Map<string, unknown>;
  get<T>(key: string): T | undefined;
  notes: string[];
  /** Keys of resources this run created or updated. */
  changed: Set<string>;
  signal: AbortSignal;
}

export function createRunState(signal: AbortSignal): RunState {
  const results = new Map<string, unknown>();
  return {
    results,
    get: <T>(key: string) => results.get(key) as T | undefined,
    notes: [],
    changed: new Set<string>(),
    signal,
  };
}
