/**
 * Runs resources in dependency order, independent ones in parallel. `plan` reads and diffs; `apply` also carries
 * out the changes. A resource whose dependency failed is skipped, never guessed.
 */
import type { Change, Resource, ResourceStatus, RunState } from './resource.js';

export interface ResourceReport {
  key: string;
  title: string;
  /** What the plan said: create (absent), update (differs), none. */
  action: 'create' | 'update' | 'none';
  status: ResourceStatus;
  changes: Change[];
  /** The operator sentence when status is failed or skipped. */
  message?: string;
  durationMs: number;
}

export type RunEvent =
  | { type: 'begin'; key: string; title: string }
  | { type: 'end'; report: ResourceReport }
  | { type: 'progress'; key: string; message: string };

export interface RunOptions {
  mode: 'plan' | 'apply';
  state: RunState;
  onEvent?: (e: RunEvent) => void;
  /** Turns an error into the operator's sentence. */
  explain?: (err: unknown) => string;
}

export class DependencyCycleError extends Error {}

/** Orders resources so that every dependency comes first; throws on a cycle or an unknown dependency. */
export function dependencyOrder<T extends { key: string; dependsOn: string[] }>(resources: T[]): T[] {
  const byKey = new Map(resources.map((r) => [r.key, r]));
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (r: T, trail: string[]): void => {
    const s = state.get(r.key);
    if (s === 'done') return;
    if (s === 'visiting') throw new DependencyCycleError(`dependency cycle: ${[...trail, r.key].join(' → ')}`);
    state.set(r.key, 'visiting');
    for (const d of r.dependsOn) {
      const dep = byKey.get(d);
      if (!dep) throw new DependencyCycleError(`${r.key} depends on unknown resource ${d}`);
      visit(dep, [...trail, r.key]);
    }
    state.set(r.key, 'done');
    out.push(r);
  };
  resources.forEach((r) => visit(r, []));
  return out;
}

export async function runResources(resources: Resource[], options: RunOptions): Promise<ResourceReport[]> {
  const ordered = dependencyOrder(resources);
  const { state, onEvent } = options;
  const explain = options.explain ?? ((e: unknown) => (e instanceof Error ? e.message : String(e)));
  const outcome = new Map<string, Promise<ResourceReport>>();

  const runOne = async (r: Resource): Promise<ResourceReport> => {
    const deps = await Promise.all(r.dependsOn.map((d) => outcome.get(d)!));
    const started = performance.now();
    const report = (partial: Omit<ResourceReport, 'key' | 'title' | 'durationMs'>): ResourceReport => {
      const rep = { key: r.key, title: r.title, durationMs: Math.round(performance.now() - started), ...partial };
      onEvent?.({ type: 'end', report: rep });
      return rep;
    };
    const blocked = deps.find((d) => d.status === 'failed' || d.status === 'skipped' || d.status === 'waiting');
    if (blocked) {
      return report({
        action: 'none',
        status: 'skipped',
        changes: [],
        message: `skipped: ${blocked.title} did not complete`,
      });
    }
    onEvent?.({ type: 'begin', key: r.key, title: r.title });
    try {
      state.signal.throwIfAborted();
      const current = await r.read(state);
      const changes = r.diff(current, state);
      const action = changes.length === 0 ? 'none' : current === undefined ? 'create' : 'update';
      if (options.mode === 'plan' || changes.length === 0) {
        state.results.set(r.key, current);
        return report({ action, status: changes.length === 0 ? 'unchanged' : 'pending', changes });
      }
      state.signal.throwIfAborted();
      const next = await r.apply(state, changes, current);
      state.results.set(r.key, next);
      state.changed.add(r.key);
      return report({ action, status: action === 'create' ? 'created' : 'updated', changes });
    } catch (err) {
      if (err instanceof WaitingError)
        return report({ action: 'create', status: 'waiting', changes: [], message: err.message });
      return report({ action: 'none', status: 'failed', changes: [], message: explain(err) });
    }
  };

  for (const r of ordered) outcome.set(r.key, runOne(r));
  return Promise.all(ordered.map((r) => outcome.get(r.key)!));
}

/** Thrown by a resource that cannot complete until someone else acts (e.g. an admin consents). */
export class WaitingError extends Error {}
