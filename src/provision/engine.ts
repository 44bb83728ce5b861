/**
 * The run of one graph of nodes: the preflight (every data and check node, and the read and diff of every managed
 * node), then — only when nothing in it failed — the writes, in dependency order, independent ones in parallel.
 *
 * Planning: a managed node whose managed input does not exist yet (this run will create it) is not read: it is
 * absent and plans a create. Applying: such a node is read after all (its input may have existed after all, e.g.
 * a run killed between a create and its record) unless every such input was freshly created by this run — a
 * brand-new object has nothing that could depend on it yet.
 */
import type { TenantContext } from './context.js';
import {
  CheckFailure,
  WaitingError,
  type AnyNode,
  type Change,
  type CheckNode,
  type DataNode,
  type Inputs,
  type ManagedNode,
  type ManagedRef,
  type Ref,
} from './model.js';

export class DependencyCycleError extends Error {}

/** The nodes of one run, added in any order; `add` returns the typed handle dependents take as input. */
export class ResourceGraph {
  private readonly byKey = new Map<string, AnyNode>();

  add<Out, In extends Inputs>(node: DataNode<Out, In> | CheckNode<Out, In>): Ref<Out>;
  add<Out, In extends Inputs, C extends Change>(node: ManagedNode<Out, In, C>): ManagedRef<Out>;
  add(node: AnyNode): Ref<unknown> | ManagedRef<unknown> {
    if (this.byKey.has(node.key)) throw new Error(`node ${node.key} added twice`);
    this.byKey.set(node.key, node);
    return node.kind === 'managed' ? { key: node.key, managed: true } : { key: node.key, managed: false };
  }

  get nodes(): AnyNode[] {
    return [...this.byKey.values()];
  }

  get(key: string): AnyNode | undefined {
    return this.byKey.get(key);
  }

  /** Every node after the nodes it depends on; throws on a cycle or an input that is not in the graph. */
  order(): AnyNode[] {
    const out: AnyNode[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: AnyNode, trail: string[]): void => {
      const s = state.get(n.key);
      if (s === 'done') return;
      if (s === 'visiting') throw new DependencyCycleError(`dependency cycle: ${[...trail, n.key].join(' → ')}`);
      state.set(n.key, 'visiting');
      for (const dep of dependencies(n)) {
        const d = this.byKey.get(dep);
        if (!d) throw new DependencyCycleError(`${n.key} depends on ${dep}, which is not in the run`);
        visit(d, [...trail, n.key]);
      }
      state.set(n.key, 'done');
      out.push(n);
    };
    for (const n of this.byKey.values()) visit(n, []);
    return out;
  }
}

function dependencies(n: AnyNode): string[] {
  return Object.values(n.inputs as Inputs)
    .filter((r): r is NonNullable<typeof r> => r !== undefined)
    .map((r) => r.key);
}

export type NodeStatus =
  | 'passed' // data / check
  | 'unchanged'
  | 'pending'
  | 'created'
  | 'updated'
  | 'deleted'
  | 'failed'
  | 'skipped'
  | 'waiting';

export interface ChangeReport {
  op: string;
  action: 'create' | 'update' | 'delete';
  /** For people; never a secret. */
  what: string;
}

export interface NodeReport {
  key: string;
  title: string;
  kind: AnyNode['kind'];
  /** What the plan said: create (absent), update (differs), delete, none. */
  action: 'create' | 'update' | 'delete' | 'none';
  status: NodeStatus;
  changes: ChangeReport[];
  /** The operator sentence when failed, skipped or waiting. */
  message?: string;
  /** A failed preflight rule: bad input (exit 2) or the tenant/operator (exit 1); `field` names the flag. */
  failure?: { kind: 'input' | 'tenant'; field?: string };
  durationMs: number;
}

export type RunEvent =
  | { type: 'begin'; key: string; title: string; phase: 'plan' | 'apply' }
  | { type: 'end'; report: NodeReport; phase: 'plan' | 'apply' };

export interface ExecuteOptions {
  onEvent?: (e: RunEvent) => void;
  /** Turns an error into the operator's sentence. */
  explain: (err: unknown) => string;
  /** Test seam: called after each managed node's apply returned (a crash can be simulated there). */
  afterApply?: (key: string) => Promise<void> | void;
}

interface Planned {
  node: AnyNode;
  report: NodeReport;
  /** data/check: the output; managed: what dependents see (undefined = not there yet). */
  value: unknown;
  current: unknown;
  changes: Change[];
  /** Managed: not read because a managed input did not exist yet. */
  readDeferred: boolean;
  /** Check: runs after the writes (its managed inputs change in this run). */
  afterWrites: boolean;
}

interface Applied {
  report: NodeReport;
  value: unknown;
  /** A new object made by this run: nothing depends on it yet. */
  fresh: boolean;
}

const BLOCKING: NodeStatus[] = ['failed', 'skipped', 'waiting'];

/** Each node is planned (and applied) once; every dependent awaits the same promise. */
function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
  }
  return p;
}

/** The inputs whose absence means "nothing to read yet" (all of them unless the node names some). */
function readGates(node: AnyNode, keys: string[]): string[] {
  return node.kind === 'managed' && node.readsWith ? keys.filter((k) => node.readsWith!.includes(k)) : keys;
}

function reportOf(node: AnyNode, partial: Partial<NodeReport>, started: number): NodeReport {
  return {
    key: node.key,
    title: node.title,
    kind: node.kind,
    action: 'none',
    status: 'passed',
    changes: [],
    durationMs: Math.round(performance.now() - started),
    ...partial,
  };
}

function failureReport(node: AnyNode, err: unknown, explain: (e: unknown) => string, started: number): NodeReport {
  if (err instanceof WaitingError)
    return reportOf(node, { status: 'waiting', action: 'create', message: err.message }, started);
  const failure =
    err instanceof CheckFailure ? { kind: err.kind, ...(err.field ? { field: err.field } : {}) } : undefined;
  return reportOf(node, { status: 'failed', message: explain(err), ...(failure ? { failure } : {}) }, started);
}

function changeReports(node: AnyNode, changes: Change[]): ChangeReport[] {
  if (node.kind !== 'managed') return [];
  return changes.map((c) => ({ op: c.op, action: node.actionOf(c), what: node.describe(c) }));
}

function planAction(node: AnyNode, current: unknown, changes: Change[]): NodeReport['action'] {
  if (node.kind !== 'managed' || changes.length === 0) return 'none';
  const actions = changes.map((c) => node.actionOf(c));
  if (current === undefined && actions.includes('create')) return 'create';
  if (actions.every((a) => a === 'delete')) return 'delete';
  return 'update';
}

/** The plan of a graph and, on request, its application. One per run: holds the state of both passes. */
export class Execution {
  private readonly planned = new Map<string, Promise<Planned>>();
  private readonly applied = new Map<string, Promise<Applied>>();
  private readonly ordered: AnyNode[];
  /** Managed nodes whose writes started, and those whose writes completed (for the interrupted summary). */
  readonly inFlight = new Set<string>();
  readonly completed: NodeReport[] = [];
  /** Managed nodes whose write was under way when the run was stopped (possibly changed). */
  readonly cutOff = new Set<string>();
  /** Each node's output as it is known so far (plan: what was read; apply: what it returned). */
  readonly outputs = new Map<string, unknown>();

  constructor(
    private readonly graph: ResourceGraph,
    private readonly ctx: TenantContext,
    private readonly o: ExecuteOptions,
  ) {
    this.ordered = graph.order();
  }

  /** The preflight: every data and check node, and every managed node's read and diff. Writes nothing. */
  async plan(): Promise<NodeReport[]> {
    const all = await Promise.all(this.ordered.map((n) => this.planNode(n)));
    return all.map((p) => p.report);
  }

  /** Whether the plan found a failure (then nothing may be written). */
  async preflightFailed(): Promise<boolean> {
    const all = await Promise.all(this.ordered.map((n) => this.planNode(n)));
    return all.some((p) => p.report.status === 'failed');
  }

  /** The writes, after a plan without failures. Returns every node's report as it ended. */
  async apply(): Promise<NodeReport[]> {
    if (await this.preflightFailed()) throw new Error('apply after a failed preflight');
    const all = await Promise.all(this.ordered.map((n) => this.applyNode(n)));
    return all.map((a) => a.report);
  }

  private emit(e: RunEvent): void {
    this.o.onEvent?.(e);
  }

  private planNode(node: AnyNode): Promise<Planned> {
    return memo(this.planned, node.key, () => this.planOne(node));
  }

  private async planOne(node: AnyNode): Promise<Planned> {
    const inputs = node.inputs as Inputs;
    const keys = Object.keys(inputs).filter((k) => inputs[k] !== undefined);
    const deps = await Promise.all(keys.map((k) => this.planNode(this.graph.get(inputs[k]!.key)!)));
    const started = performance.now();
    const done = (report: NodeReport, more: Partial<Omit<Planned, 'node' | 'report'>> = {}): Planned => {
      const p: Planned = {
        node,
        report,
        value: undefined,
        current: undefined,
        changes: [],
        readDeferred: false,
        afterWrites: false,
        ...more,
      };
      this.outputs.set(node.key, node.kind === 'managed' ? p.current : p.value);
      this.emit({ type: 'end', report, phase: 'plan' });
      return p;
    };
    const blocked = deps.find((d) => BLOCKING.includes(d.report.status));
    if (blocked) return done(reportOf(node, { status: 'skipped', message: `needs ${blocked.node.title}` }, started));
    const resolved: Record<string, unknown> = {};
    let pendingInput = false;
    const gates = readGates(node, keys);
    keys.forEach((k, i) => {
      const d = deps[i]!;
      resolved[k] = d.value;
      if (!gates.includes(k)) return;
      const changing = d.node.kind === 'managed' && (d.changes.length > 0 || d.readDeferred);
      if (changing && d.value === undefined) pendingInput = true;
      if (d.afterWrites) pendingInput = true;
    });
    const anyManagedChanging = deps.some(
      (d) => (d.node.kind === 'managed' && (d.changes.length > 0 || d.readDeferred)) || d.afterWrites,
    );
    this.emit({ type: 'begin', key: node.key, title: node.title, phase: 'plan' });
    if (node.kind === 'check' && anyManagedChanging)
      return done(reportOf(node, { status: 'pending', message: 'checked after the changes' }, started), {
        afterWrites: true,
      });
    try {
      this.ctx.signal.throwIfAborted();
      if (node.kind !== 'managed') {
        const value = await node.read(this.ctx, resolved as never);
        return done(reportOf(node, { status: 'passed' }, started), { value, current: value });
      }
      const current = pendingInput ? undefined : await node.read(this.ctx, resolved as never);
      const changes = node.diff(current, resolved as never);
      const value = changes.length === 0 ? current : node.planned ? node.planned(current, changes) : current;
      const report = reportOf(
        node,
        {
          status: changes.length === 0 ? 'unchanged' : 'pending',
          action: planAction(node, current, changes),
          changes: changeReports(node, changes),
        },
        started,
      );
      return done(report, { value, current, changes, readDeferred: pendingInput });
    } catch (err) {
      return done(failureReport(node, err, this.o.explain, started));
    }
  }

  private applyNode(node: AnyNode): Promise<Applied> {
    return memo(this.applied, node.key, () => this.applyOne(node));
  }

  private async applyOne(node: AnyNode): Promise<Applied> {
    const plan = await this.planNode(node);
    const inputs = node.inputs as Inputs;
    const keys = Object.keys(inputs).filter((k) => inputs[k] !== undefined);
    const deps = await Promise.all(keys.map((k) => this.applyNode(this.graph.get(inputs[k]!.key)!)));
    const started = performance.now();
    const done = (a: Applied): Applied => {
      if (a.report.status !== 'failed' && a.report.status !== 'skipped') this.outputs.set(node.key, a.value);
      this.emit({ type: 'end', report: a.report, phase: 'apply' });
      if (node.kind === 'managed') this.completed.push(a.report);
      return a;
    };
    if (node.kind === 'data' || (node.kind === 'check' && !plan.afterWrites))
      return { report: plan.report, value: plan.value, fresh: false };
    const blocked = deps.find((d) => BLOCKING.includes(d.report.status));
    if (blocked)
      return done({
        report: reportOf(node, { status: 'skipped', message: `needs ${blocked.report.title}` }, started),
        value: undefined,
        fresh: false,
      });
    const resolved: Record<string, unknown> = {};
    keys.forEach((k, i) => (resolved[k] = deps[i]!.value));
    this.emit({ type: 'begin', key: node.key, title: node.title, phase: 'apply' });
    try {
      this.ctx.signal.throwIfAborted();
      if (node.kind === 'check') {
        const value = await node.read(this.ctx, resolved as never);
        return done({ report: reportOf(node, { status: 'passed' }, started), value, fresh: false });
      }
      let current = plan.current;
      if (plan.readDeferred) {
        // Inputs this run changed: read now, unless every one of them is brand new (nothing can depend on it).
        const gates = readGates(node, keys);
        const changedDeps = deps.filter(
          (d, i) => gates.includes(keys[i]!) && (d.report.status === 'created' || d.report.status === 'updated'),
        );
        const allFresh = changedDeps.length > 0 && changedDeps.every((d) => d.fresh);
        current = allFresh ? undefined : await node.read(this.ctx, resolved as never);
      }
      const changes = node.diff(current, resolved as never);
      if (changes.length === 0)
        return done({ report: reportOf(node, { status: 'unchanged' }, started), value: current, fresh: false });
      this.ctx.signal.throwIfAborted();
      this.inFlight.add(node.key);
      let value: unknown;
      try {
        value = await node.apply(this.ctx, changes, current, resolved as never);
      } catch (err) {
        // Cut off by Ctrl-C, SIGTERM or the run deadline mid-write: it may or may not have taken effect.
        if (this.ctx.signal.aborted) this.cutOff.add(node.key);
        throw err;
      } finally {
        this.inFlight.delete(node.key);
      }
      await this.o.afterApply?.(node.key);
      const action = planAction(node, current, changes);
      const status: NodeStatus = action === 'create' ? 'created' : action === 'delete' ? 'deleted' : 'updated';
      const fresh =
        current === undefined &&
        !(typeof value === 'object' && value !== null && (value as { existed?: boolean }).existed === true);
      return done({
        report: reportOf(node, { status, action, changes: changeReports(node, changes) }, started),
        value,
        fresh,
      });
    } catch (err) {
      return done({ report: failureReport(node, err, this.o.explain, started), value: undefined, fresh: false });
    }
  }
}

/** The statuses of a managed node whose write took effect. */
export const CHANGED_STATUSES: ReadonlySet<string> = new Set(['created', 'updated', 'deleted']);

/** Whether any write of a run completed (for the interrupted summary and the failure's exit code). */
export function wroteAnything(reports: readonly NodeReport[]): boolean {
  return reports.some((r) => r.kind === 'managed' && CHANGED_STATUSES.has(r.status));
}

/** What an interrupted run's summary lists: the writes that completed, and those in flight or cut off. */
export function interruptedState(
  exec: Execution | undefined,
  reports: readonly NodeReport[],
): { changed: string[]; inFlight: string[] } {
  if (!exec) return { changed: [], inFlight: [] };
  return {
    changed: exec.completed.filter((r) => CHANGED_STATUSES.has(r.status)).map((r) => r.title),
    inFlight: [...new Set([...exec.inFlight, ...exec.cutOff])].map((k) => reports.find((r) => r.key === k)?.title ?? k),
  };
}

/** A run's reports as its result shows them: the preflight, the resources, the failure that stopped it, the count pending. */
export function summarizeReports(reports: readonly NodeReport[]): {
  preflight: NodeReport[];
  resources: NodeReport[];
  failure?: { kind: 'input' | 'tenant'; field?: string; message: string; key: string };
  pending: number;
  changed: boolean;
} {
  const preflight = reports.filter((r) => r.kind !== 'managed');
  const resources = reports.filter((r) => r.kind === 'managed');
  const failed = reports.filter((r) => r.status === 'failed');
  // The rule that stopped the run is the one to name (a bad input before a tenant error it caused).
  const first = failed.find((f) => f.failure?.kind === 'input') ?? failed.find((f) => f.failure) ?? failed[0];
  return {
    preflight,
    resources,
    ...(first
      ? {
          failure: {
            kind: first.failure?.kind ?? 'tenant',
            ...(first.failure?.field ? { field: first.failure.field } : {}),
            message: first.message ?? `${first.title} failed`,
            key: first.key,
          },
        }
      : {}),
    pending: resources.filter((r) => r.status === 'pending').length,
    changed: resources.some((r) => CHANGED_STATUSES.has(r.status)),
  };
}
