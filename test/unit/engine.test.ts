/**
 * The resource graph's rules, on nodes that record what they are asked: the preflight reads everything and writes
 * nothing; a failed check stops every write; dependents of an object to be created are not read; apply re-reads
 * them when the object existed after all; failures skip dependents; writes happen in dependency order.
 */
import { describe, expect, it } from 'vitest';
import { DependencyCycleError, Execution, ResourceGraph } from '../../src/provision/engine.js';
import {
  CheckFailure,
  Sensitive,
  type ManagedNode,
  type ManagedRef,
  type Ref,
  type Resolved,
} from '../../src/provision/model.js';
import type { TenantContext } from '../../src/provision/context.js';
import { inspect } from 'node:util';

const ctx = { signal: new AbortController().signal } as unknown as TenantContext;
const explain = (e: unknown): string => (e instanceof Error ? e.message : String(e));

interface World {
  log: string[];
  objects: Map<string, { v: number; existed?: boolean }>;
}

function managed<In extends Record<string, Ref<unknown> | ManagedRef<unknown>>>(
  w: World,
  key: string,
  inputs: In,
  o: { fail?: boolean; needsInputs?: boolean } = {},
): ManagedNode<{ v: number; existed?: boolean }, In, { op: 'create' }> {
  return {
    kind: 'managed',
    key,
    title: key,
    inputs,
    async read(_c, i: Resolved<In>) {
      w.log.push(`read ${key}`);
      void i;
      return w.objects.get(key);
    },
    diff: (current) => (current ? [] : [{ op: 'create' }]),
    async apply() {
      if (o.fail) throw new Error(`${key} broke`);
      w.log.push(`apply ${key}`);
      const v = { v: 1 };
      w.objects.set(key, v);
      return v;
    },
    describe: () => `create ${key}`,
    actionOf: () => 'create',
  };
}

function world(existing: string[] = []): World {
  return { log: [], objects: new Map(existing.map((k) => [k, { v: 1 }])) };
}

describe('resource graph', () => {
  it('orders by dependency and rejects cycles and unknown inputs', () => {
    const w = world();
    const g = new ResourceGraph();
    const a = g.add(managed(w, 'a', {}));
    const b = g.add(managed(w, 'b', { a }));
    g.add(managed(w, 'c', { b }));
    expect(g.order().map((n) => n.key)).toEqual(['a', 'b', 'c']);
    const bad = new ResourceGraph();
    bad.add(managed(w, 'x', { missing: { key: 'nope', managed: true } as ManagedRef<unknown> }));
    expect(() => bad.order()).toThrow(DependencyCycleError);
  });

  it('plan reads and diffs without writing; dependents of an object to be created are not read', async () => {
    const w = world(['a']);
    const g = new ResourceGraph();
    const a = g.add(managed(w, 'a', {}));
    const b = g.add(managed(w, 'b', { a }));
    g.add(managed(w, 'c', { b }));
    const plan = await new Execution(g, ctx, { explain }).plan();
    expect(plan.map((r) => [r.key, r.status, r.action])).toEqual([
      ['a', 'unchanged', 'none'],
      ['b', 'pending', 'create'],
      ['c', 'pending', 'create'],
    ]);
    expect(w.log).toEqual(['read a', 'read b']);
  });

  it('a failed check stops every write, and says which field is wrong', async () => {
    const w = world();
    const g = new ResourceGraph();
    const check = g.add({
      kind: 'check',
      key: 'check.input',
      title: 'input',
      inputs: {},
      read: async () => {
        throw new CheckFailure('input', 'bad lifetime', 'give 90d', '--secret-lifetime');
      },
    });
    g.add(managed(w, 'a', {}));
    g.add(managed(w, 'b', { check }));
    const run = new Execution(g, ctx, { explain });
    const plan = await run.plan();
    expect(plan.find((r) => r.key === 'check.input')).toMatchObject({
      status: 'failed',
      failure: { kind: 'input', field: '--secret-lifetime' },
    });
    expect(await run.preflightFailed()).toBe(true);
    await expect(run.apply()).rejects.toThrow(/failed preflight/);
    expect(w.log.filter((l) => l.startsWith('apply'))).toEqual([]);
  });

  it('apply writes in dependency order; a failure skips its dependents but not independent nodes', async () => {
    const w = world();
    const g = new ResourceGraph();
    const a = g.add(managed(w, 'a', {}));
    const b = g.add(managed(w, 'b', { a }, { fail: true }));
    g.add(managed(w, 'c', { b }));
    g.add(managed(w, 'd', { a }));
    const run = new Execution(g, ctx, { explain });
    await run.plan();
    const out = await run.apply();
    expect(Object.fromEntries(out.map((r) => [r.key, r.status]))).toEqual({
      a: 'created',
      b: 'failed',
      c: 'skipped',
      d: 'created',
    });
    expect(w.log.indexOf('apply a')).toBeLessThan(w.log.indexOf('apply d'));
  });

  it('a node whose input turned out to exist already (existed: true) is read at apply; a fresh one is not', async () => {
    const w = world();
    const g = new ResourceGraph();
    const parent: ManagedNode<{ v: number; existed?: boolean }, Record<string, never>, { op: 'create' }> = {
      ...managed(w, 'parent', {}),
      async apply() {
        w.log.push('apply parent');
        return { v: 1, existed: true };
      },
    };
    const p = g.add(parent);
    g.add(managed(w, 'child', { p }));
    const run = new Execution(g, ctx, { explain });
    await run.plan();
    await run.apply();
    expect(w.log).toEqual(['read parent', 'apply parent', 'read child', 'apply child']);

    const w2 = world();
    const g2 = new ResourceGraph();
    const p2 = g2.add(managed(w2, 'parent', {}));
    g2.add(managed(w2, 'child', { p: p2 }));
    const run2 = new Execution(g2, ctx, { explain });
    await run2.plan();
    await run2.apply();
    expect(w2.log).toEqual(['read parent', 'apply parent', 'apply child']);
  });

  it('a rerun with everything in place writes nothing', async () => {
    const w = world(['a', 'b']);
    const g = new ResourceGraph();
    const a = g.add(managed(w, 'a', {}));
    g.add(managed(w, 'b', { a }));
    const run = new Execution(g, ctx, { explain });
    await run.plan();
    const out = await run.apply();
    expect(out.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
    expect(w.log.filter((l) => l.startsWith('apply'))).toEqual([]);
  });

  it('Sensitive never prints its value', () => {
    const s = new Sensitive('p@ssw0rd-value');
    expect(String(s)).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect({ s })).not.toContain('p@ssw0rd');
    expect(`${s}`).toBe('[redacted]');
    expect(s.reveal()).toBe('p@ssw0rd-value');
  });
});
