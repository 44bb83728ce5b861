/** The fleet room's door: many tenants in one run, their shards, and the fleet's outcome. */
export { runFleet, type FleetTenantResult, type RunFleetOptions } from './runner.js';
export { inShard, shardMatrix, shardOf, shardText, type MatrixShard } from './shard.js';
export { countOutcomes, FLEET_EXIT, fleetExitCode, isFailure, type FleetOutcome } from './summary.js';
export { MATRIX_FORMATS, matrixFor, type MatrixFormat } from './matrix.js';
