/**
 * `sendasapp rotate`: a new secret or certificate while the old one stays valid, written to --secret-out with the
 * old one kept beside it; the XOAUTH2 proof with the NEW one; the hand-off of --target re-rendered; then the old one
 * retired after --grace (src/provision/rotation.ts). A renderer of the TenantRun like apply (tenant-command.ts): the
 * plan and a confirmation on a terminal, --yes in pipelines, one JSON result with `rotation`.
 */
import type { RotationReport } from '../provision/index.js';
import { loadOptions, renderApplyHandoff, type CommandFlags } from './provision-commands.js';
import { runTenantCommand } from './tenant-command.js';

export async function rotateCommand(flags: CommandFlags): Promise<number> {
  // --new-secret is apply's "replace now, unproven" (a config file shared with apply may hold it): rotate proves first.
  const options = { ...loadOptions(flags), newSecret: false, rotate: true };
  return runTenantCommand({
    name: 'rotate',
    options,
    yes: flags.yes,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    render: options.target ? renderApplyHandoff : undefined,
    // A hand-off printed on stdout is the result: the summary goes beside the progress then.
    summaryTo: options.target && !options.handoffOut ? 'stderr' : 'stdout',
    // The new credential did not pass the proof, so the old one was kept: exit 3, whatever the reply was.
    adjustOutcome: (r, extra) => {
      const rotation = extra.rotation as RotationReport | undefined;
      return rotation?.status === 'kept' && rotation.proof === 'failed' ? 'proof-not-passed' : r.outcome;
    },
  });
}
