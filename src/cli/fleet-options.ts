/**
 * The fleet's flags on plan, apply, status and handoff (--fleet, --parallel, --fail-fast, --shard), and the switch
 * between the single-tenant command and the fleet. No zod here (fast --help); values are checked in the fleet
 * command through src/config/fleet.ts.
 */
import { Option, type Command } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';
import { single } from './options.js';

/** Kept in step with FLEET_OPTIONS of src/config/fleet.ts (a test compares them). */
export const FLEET_FLAGS = [
  {
    key: 'fleet',
    flag: '--fleet <file>',
    env: 'SENDASAPP_FLEET',
    text: 'run for every tenant of this fleet file (defaults + tenants; YAML or JSON)',
  },
  {
    key: 'parallel',
    flag: '--parallel <n>',
    env: 'SENDASAPP_PARALLEL',
    text: 'with --fleet: how many tenants run at once, 1 to 64 (default: 8)',
  },
  {
    key: 'failFast',
    flag: '--fail-fast',
    env: 'SENDASAPP_FAIL_FAST',
    text: 'with --fleet: start no more tenants after the first failure',
  },
  {
    key: 'shard',
    flag: '--shard <k/N>',
    env: 'SENDASAPP_SHARD',
    text: "with --fleet: run only shard k of N (by a hash of each tenant's name)",
  },
  {
    key: 'report',
    flag: '--report <file>',
    env: 'SENDASAPP_REPORT',
    text: 'with --fleet: after the run, write the fleet report here (HTML; Markdown when it ends in .md)',
  },
] as const;

export function addFleetOptions(cmd: Command): Command {
  for (const f of FLEET_FLAGS) {
    const opt = new Option(f.flag, `${f.text} [${f.env}]`);
    if (!f.flag.endsWith('-fast')) opt.argParser(single(f.flag));
    cmd.addOption(opt);
  }
  return cmd;
}

/** The fleet file of a command: --fleet, else SENDASAPP_FLEET. */
export function fleetFileOf(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = flags.fleet ?? env.SENDASAPP_FLEET;
  return typeof given === 'string' && given !== '' ? given : undefined;
}

/** Runs the fleet when a fleet file is given, else the single-tenant command (which refuses the fleet-only flags). */
export async function fleetOr(
  command: 'plan' | 'apply' | 'status' | 'handoff' | 'verify',
  flags: Record<string, unknown>,
  single: (flags: Record<string, unknown>) => Promise<number>,
): Promise<number> {
  if (fleetFileOf(flags)) return (await import('./fleet-command.js')).fleetCommand(command, flags);
  for (const f of FLEET_FLAGS)
    if (f.key !== 'fleet' && flags[f.key] !== undefined)
      throw new CliError(`${/--[a-z-]+/.exec(f.flag)![0]}: goes with --fleet FILE`, ExitCode.badInput, {
        field: /--[a-z-]+/.exec(f.flag)![0],
      });
  return single(flags);
}
