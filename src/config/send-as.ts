/**
 * The send-as users (`--send-as-users`, `--send-as-group`): people whose mailboxes grant SendAs to one shared
 * account that a sending system (enaio® webclient, Xeams) signs in as. Which account that is, and the combinations
 * that cannot work, decided before any tenant call (a ConfigError is exit 2).
 */
import { ConfigError } from './errors.js';
import type { ProvisionOptions } from './options.js';

type SendAsOptions = Pick<ProvisionOptions, 'mailboxes' | 'group' | 'sendAsUsers' | 'sendAsGroup' | 'sendAsAccount'>;

/** Whether the run manages send-as users at all. */
export function managesSendAs(o: SendAsOptions): boolean {
  return (o.sendAsUsers?.length ?? 0) > 0 || Boolean(o.sendAsGroup);
}

/**
 * The shared account: `--send-as-account`, else the run's one `--mailbox`. Undefined when the run has several
 * mailboxes or a group and no `--send-as-account` (checkSendAs refuses that).
 */
export function sendAsAccountOf(o: SendAsOptions): string | undefined {
  if (o.sendAsAccount) return o.sendAsAccount;
  return o.mailboxes.length === 1 && !o.group ? o.mailboxes[0] : undefined;
}

/**
 * The rules of the send-as options; normalizes the list (no duplicates). `fieldOf` names where a value came from
 * (flag, variable or file key), so that the refusal names it.
 */
export function checkSendAs(o: ProvisionOptions, fieldOf: Partial<Record<keyof ProvisionOptions, string>> = {}): void {
  const accountField = fieldOf.sendAsAccount ?? '--send-as-account';
  if (o.sendAsUsers) o.sendAsUsers = [...new Set(o.sendAsUsers)];
  if (!managesSendAs(o)) {
    if (o.sendAsAccount)
      throw new ConfigError(
        accountField,
        'goes with --send-as-users or --send-as-group (the people who send through that account)',
      );
    return;
  }
  const account = sendAsAccountOf(o);
  if (!account)
    throw new ConfigError(
      '--send-as-account',
      `is required with ${o.group ? '--group' : 'several --mailbox'}: name the shared account the send-as users send through (one of the app's mailboxes)`,
    );
  if (o.sendAsAccount && !o.group && !o.mailboxes.includes(o.sendAsAccount))
    throw new ConfigError(
      accountField,
      `${o.sendAsAccount} is not one of --mailbox (${o.mailboxes.join(', ') || 'none given'}): the app signs in as the shared account, so it must be one of its mailboxes`,
    );
  if (o.sendAsUsers?.includes(account))
    throw new ConfigError(
      fieldOf.sendAsUsers ?? '--send-as-users',
      `${account} is the shared account itself: it sends as itself and needs no SendAs; leave it out`,
    );
}
