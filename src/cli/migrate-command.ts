/**
 * `sendasapp migrate --to rbac|full-access|send-as`: moves an app to another way of mailbox access with no gap — the
 * new way is granted, an XOAUTH2 login proves it, then the old grants go (FullAccess, SendAs, the RBAC objects, and
 * for rbac the SMTP.SendAsApp consent and API permission). The plan shows both halves. When the proof does not pass
 * the old grants stay and the run ends waiting (exit 3). Rendered like apply, by the shared TenantRun renderer.
 */
import { MAILBOX_ACCESS, ConfigError } from '../config/index.js';
import { fromConfigError } from './exit-codes.js';
import { loadOptions, type CommandFlags } from './provision-commands.js';
import { runTenantCommand } from './tenant-command.js';

export interface MigrateFlags extends CommandFlags {
  to?: string;
}

/** The target mode, checked like every option (exit 2 with the flag named). */
export function migrationTarget(flags: MigrateFlags): (typeof MAILBOX_ACCESS)[number] {
  const to = flags.to;
  if (to === undefined)
    throw fromConfigError(
      new ConfigError('--to', `is required: the mailbox access to move to (${MAILBOX_ACCESS.join(', ')})`),
    );
  const hit = MAILBOX_ACCESS.find((m) => m === to);
  if (!hit) throw fromConfigError(new ConfigError('--to', `must be one of ${MAILBOX_ACCESS.join(', ')}`));
  if (flags.mailboxAccess !== undefined && flags.mailboxAccess !== hit)
    throw fromConfigError(
      new ConfigError('--mailbox-access', `cannot differ from --to ${hit} (migrate sets the mailbox access itself)`),
    );
  return hit;
}

export async function migrateCommand(flags: MigrateFlags): Promise<number> {
  const to = migrationTarget(flags);
  const options = loadOptions({ ...flags, mailboxAccess: to });
  return runTenantCommand({
    name: 'migrate',
    options,
    yes: flags.yes,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  });
}
