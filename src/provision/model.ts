/**
 * The resource model (DESIGN.md): every step of a run is a node of one typed graph.
 *
 * - `data` nodes only read (tenant facts: Exchange Online's role, the mailboxes, the sink, the operator's rights);
 * - `check` nodes validate or test (preflight rules, Exchange's own authorization test) and throw a CheckFailure;
 * - `managed` nodes read the current state, diff it against what is wanted (pure, typed changes) and apply.
 *
 * Dependents get their inputs as typed `Ref`s returned when a node is added, never by string key and cast.
 */
import { inspect } from 'node:util';
import type { TenantContext } from './context.js';

export type NodeKind = 'data' | 'check' | 'managed';

/** A typed handle on the output of a data or check node: always resolved before dependents run. */
export interface Ref<T> {
  readonly key: string;
  /** Phantom: carries the output type. */
  readonly __out?: T;
  readonly managed: false;
}

/** A typed handle on the output of a managed node: `undefined` while the object does not exist yet. */
export interface ManagedRef<T> {
  readonly key: string;
  readonly __out?: T;
  readonly managed: true;
}

/** A node's inputs: a record of Refs (an input a node does not need in this run may be left undefined). */
export type Inputs = Record<string, Ref<unknown> | ManagedRef<unknown> | undefined>;
export type Resolved<In extends Inputs> = {
  [K in keyof In]: In[K] extends ManagedRef<infer T>
    ? T | undefined
    : In[K] extends Ref<infer T>
      ? T
      : In[K] extends ManagedRef<infer T> | undefined
        ? T | undefined
        : In[K] extends Ref<infer T> | undefined
          ? T | undefined
          : never;
};

/** A change a managed node makes: `op` names it (typed per resource); `text` is produced for people only. */
export interface Change {
  op: string;
}

interface NodeBase<Out, In extends Inputs> {
  key: string;
  /** A line for people: 'Application "SMTP OAuth sender"'. */
  title: string;
  inputs: In;
  /**
   * Reads what is there. An authorization error is an error, never "absent". A managed node whose managed input
   * is undefined (not created yet) is not read: its current state is absent.
   */
  read(ctx: TenantContext, inputs: Resolved<In>): Promise<Out | undefined>;
}

export interface DataNode<Out, In extends Inputs = Inputs> extends NodeBase<Out, In> {
  kind: 'data';
}

export interface CheckNode<Out, In extends Inputs = Inputs> extends NodeBase<Out, In> {
  kind: 'check';
}

export interface ManagedNode<Out, In extends Inputs = Inputs, C extends Change = Change> extends NodeBase<Out, In> {
  kind: 'managed';
  /** Pure: the changes from `current` to what the inputs want. */
  diff(current: Out | undefined, inputs: Resolved<In>): C[];
  /** Carries out the changes and returns the node's new output (secrets wrapped in Sensitive). */
  apply(ctx: TenantContext, changes: C[], current: Out | undefined, inputs: Resolved<In>): Promise<Out>;
  /** For people: one line per change. */
  describe(change: C): string;
  /**
   * The inputs its read needs (default: all). A node is not read while one of these does not exist yet; an input
   * left out here may be absent while the node's own object is read (e.g. by the app's id).
   */
  readsWith?: ReadonlyArray<keyof In & string>;
  /** Create, update or delete, for the summary symbols (+ ~ -). */
  actionOf(change: C): 'create' | 'update' | 'delete';
  /**
   * While planning: what dependents will see of this node once its changes are applied. Undefined (the default
   * for a node with changes) means "a new object": dependents have nothing to read and plan to create theirs.
   */
  planned?(current: Out | undefined, changes: C[]): Out | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyNode = DataNode<any, any> | CheckNode<any, any> | ManagedNode<any, any, any>;

/** Why a check or data node stopped the run: bad input (exit 2) or a tenant/operator problem (exit 1). */
export type FailureKind = 'input' | 'tenant';

/** A preflight rule that does not hold. `field` names the flag or config key when there is one. */
export class CheckFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly what: string,
    readonly fix: string,
    readonly field?: string,
  ) {
    super(`${what}. Fix: ${fix}`);
    this.name = 'CheckFailure';
  }
}

/** Thrown by a node that cannot complete until someone else acts (e.g. an administrator consents). */
export class WaitingError extends Error {}

export type NoteSeverity = 'info' | 'warning' | 'error';

/** Something the operator should know; other code branches on `code`, never on `text`. */
export interface Note {
  code: string;
  severity: NoteSeverity;
  text: string;
}

const REDACTED = '[redacted]';

/**
 * A secret value (client secret, private key) that cannot be printed by accident: String(), JSON and
 * util.inspect show "[redacted]"; only `reveal()` gives the value, where it is written to its sink or proof.
 */
export class Sensitive<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
