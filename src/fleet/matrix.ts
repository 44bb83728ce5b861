/**
 * `sendasapp fleet matrix`: the shard list in the form a CI system fans out on — a GitHub Actions matrix
 * (`strategy.matrix: ${{ fromJSON(...) }}`) or an Azure DevOps job matrix (`strategy.matrix: $[ ... ]`).
 * Tenant names stay out of it (job names and logs of a CI system are widely visible); each job finds its tenants
 * itself with `--shard k/N`.
 */
import { shardMatrix } from './shard.js';

export const MATRIX_FORMATS = ['github', 'azure-devops'] as const;
export type MatrixFormat = (typeof MATRIX_FORMATS)[number];

/** The matrix of `count` shards of these entry names, as one JSON value. */
export function matrixFor(names: readonly string[], count: number, format: MatrixFormat): unknown {
  const shards = shardMatrix(names, count);
  if (format === 'github')
    return {
      include: shards.map((s) => ({ shard: s.shard, index: s.index, count: s.count, tenants: s.tenants.length })),
    };
  // Azure DevOps: one named leg per shard; its variables become the job's variables (values are strings).
  return Object.fromEntries(
    shards.map((s) => [
      `shard_${s.index}_of_${s.count}`,
      { shard: s.shard, index: String(s.index), count: String(s.count), tenants: String(s.tenants.length) },
    ]),
  );
}
