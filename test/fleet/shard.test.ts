/**
 * Sharding is stable and whole: a tenant's shard depends on its name alone (adding tenants moves nobody), the shards
 * of a fleet together hold every tenant exactly once, and the CI matrix lists every shard.
 */
import { describe, expect, it } from 'vitest';
import { inShard, matrixFor, shardMatrix, shardOf } from '../../src/fleet/index.js';

const names = (n: number, prefix = 'tenant'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('shards', () => {
  it('put each tenant in exactly one shard, and the union of the shards is the fleet', () => {
    const fleet = names(57).map((name) => ({ name }));
    for (const count of [1, 2, 3, 7]) {
      const shards = Array.from({ length: count }, (_, i) => inShard(fleet, { index: i + 1, count }));
      const all = shards.flat().map((e) => e.name);
      expect(all.sort()).toEqual(fleet.map((e) => e.name).sort());
      expect(new Set(all).size).toBe(fleet.length);
    }
  });

  it('keep a tenant in its shard when others are added (the shard depends on the name only)', () => {
    const before = new Map(names(20).map((n) => [n, shardOf(n, 5)]));
    const bigger = [...names(20), ...names(30, 'new-')];
    for (const n of bigger.slice(0, 20)) expect(shardOf(n, 5)).toBe(before.get(n));
    // And it is a real spread, not everything in one shard.
    expect(new Set(bigger.map((n) => shardOf(n, 5))).size).toBe(5);
  });

  it('list every shard for GitHub Actions and Azure DevOps, with no tenant name in the matrix', () => {
    const fleet = names(10);
    const gh = matrixFor(fleet, 3, 'github') as { include: Array<{ shard: string; tenants: number }> };
    expect(gh.include.map((s) => s.shard)).toEqual(['1/3', '2/3', '3/3']);
    expect(gh.include.reduce((a, s) => a + s.tenants, 0)).toBe(10);
    const ado = matrixFor(fleet, 3, 'azure-devops') as Record<string, { shard: string }>;
    expect(Object.values(ado).map((s) => s.shard)).toEqual(['1/3', '2/3', '3/3']);
    expect(JSON.stringify([gh, ado])).not.toMatch(/tenant\d/);
    expect(
      shardMatrix(fleet, 3)
        .flatMap((s) => s.tenants)
        .sort(),
    ).toEqual([...fleet].sort());
  });
});
