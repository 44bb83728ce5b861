/**
 * Stable sharding: a tenant's shard comes from a hash of its entry name alone, so it stays in its shard when other
 * tenants are added or removed, and every shard is a fleet of its own.
 */
import { createHash } from 'node:crypto';
import type { Shard } from '../config/index.js';

/** The shard (1-based) of an entry name among `count` shards. */
export function shardOf(name: string, count: number): number {
  const h = createHash('sha256').update(name.toLowerCase(), 'utf8').digest();
  return (h.readUInt32BE(0) % count) + 1;
}

/** The entries of one shard, in fleet-file order. */
export function inShard<T extends { name: string }>(entries: readonly T[], shard: Shard): T[] {
  return entries.filter((e) => shardOf(e.name, shard.count) === shard.index);
}

export function shardText(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

export interface MatrixShard {
  /** `k/N`, as --shard takes it. */
  shard: string;
  index: number;
  count: number;
  /** The entry names in this shard (a shard may be empty: it is still a valid, empty run). */
  tenants: string[];
}

/** Every shard of a fleet with its tenants: what `sendasapp fleet matrix` prints. */
export function shardMatrix(names: readonly string[], count: number): MatrixShard[] {
  return Array.from({ length: count }, (_, i) => {
    const shard = { index: i + 1, count };
    return {
      shard: shardText(shard),
      index: shard.index,
      count,
      tenants: names.filter((n) => shardOf(n, count) === shard.index),
    };
  });
}
