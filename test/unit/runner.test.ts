import { describe, expect, it } from 'vitest';
import { createRunState, type Resource } from '../../src/provision/resource.js';
import { dependencyOrder, runResources, DependencyCycleError } from '../../src/provision/runner.js';

function fake(
  key: string,
  dependsOn: string[],
  opts: { exists?: boolean; fail?: boolean; log: string[]; delayMs?: number },
): Resource<{ v: number }> {
  let current: { v: number } | undefined = opts.exists ? { v: 1 } : undefined;
  return {
    key,
    title: key,
    dependsOn,
    async read() {
      opts.log.push(`read ${key}`);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
      return current;
    },
    diff: (c) => (c ? [] : [{ action: 'create', what: key }]),
    async apply() {
      if (opts.fail) throw new Error(`${key} broke`);
      opts.log.push(`apply ${key}`);
      current = { v: 1 };
      return current;
    },
  };
}

describe('runner', () => {
  it('orders by dependency and rejects cycles', () => {
    const order = dependencyOrder([
      { key: 'c', dependsOn: ['b'] },
      { key: 'b', dependsOn: ['a'] },
      { key: 'a', dependsOn: [] },
    ]);
    expect(order.map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect(() =>
      dependencyOrder([
        { key: 'a', dependsOn: ['b'] },
        { key: 'b', dependsOn: ['a'] },
      ]),
    ).toThrow(DependencyCycleError);
  });

  it('plan writes nothing; apply creates what is missing; a rerun changes nothing', async () => {
    const log: string[] = [];
    const rs = [fake('a', [], { log }), fake('b', ['a'], { log, exists: true })];
    const plan = await runResources(rs, { mode: 'plan', state: createRunState(new AbortController().signal) });
    expect(plan.map((r) => [r.key, r.action, r.status])).toEqual([
      ['a', 'create', 'pending'],
      ['b', 'none', 'unchanged'],
    ]);
    expect(log.filter((l) => l.startsWith('apply'))).toEqual([]);
    const apply = await runResources(rs, { mode: 'apply', state: createRunState(new AbortController().signal) });
    expect(apply.map((r) => r.status)).toEqual(['created', 'unchanged']);
    log.length = 0;
    const again = await runResources(rs, { mode: 'apply', state: createRunState(new AbortController().signal) });
    expect(again.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
    expect(log.filter((l) => l.startsWith('apply'))).toEqual([]);
  });

  it('skips dependents of a failed resource and runs independent ones in parallel', async () => {
    const log: string[] = [];
    const rs = [
      fake('a', [], { log, fail: true }),
      fake('b', ['a'], { log }),
      fake('x', [], { log, delayMs: 30 }),
      fake('y', [], { log, delayMs: 30 }),
    ];
    const out = await runResources(rs, { mode: 'apply', state: createRunState(new AbortController().signal) });
    // x and y are independent: y is read before x's (slow) read has finished and x is applied.
    expect(log.indexOf('read y')).toBeLessThan(log.indexOf('apply x'));
    const by = Object.fromEntries(out.map((r) => [r.key, r]));
    expect(by.a?.status).toBe('failed');
    expect(by.a?.message).toBe('a broke');
    expect(by.b?.status).toBe('skipped');
    expect(by.x?.status).toBe('created');
  });
});
