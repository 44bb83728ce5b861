/**
 * SendAs for people who send through a shared account (enaio® webclient, Xeams): each person's mailbox grants SendAs
 * to the account the sending system signs in as (`Add-RecipientPermission -Identity <user> -Trustee <account>
 * -AccessRights SendAs`). Reads go out together (one `$batch` on REST); writes one by one, a few at a time.
 */
import { ExchangeError, type ExchangeBackend } from './backend.js';
import { inParallel } from '../poll/index.js';
import { invokeAll } from './batching.js';

/** A mailbox as Get-Mailbox shows it (the fields the send-as users need). */
export interface SendAsMailbox {
  /** Primary SMTP address, lower case. */
  address: string;
  /** RecipientTypeDetails: UserMailbox, SharedMailbox, … */
  type: string;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * Get-Mailbox for each address, in one round: the mailbox, or undefined where Exchange has none (a user without a
 * mailbox, a contact, a typo). Any other failure is thrown.
 */
export async function readSendAsMailboxes(
  exo: ExchangeBackend,
  addresses: string[],
): Promise<Array<SendAsMailbox | undefined>> {
  const answers = await invokeAll(
    exo,
    addresses.map((a) => ({ cmdlet: 'Get-Mailbox', parameters: { Identity: a } })),
  );
  return answers.map((r) => {
    if (r instanceof ExchangeError) {
      if (r.kind === 'not-found') return undefined;
      throw r;
    }
    const row = (r as Array<Record<string, unknown>>)[0];
    if (!row) return undefined;
    return { address: text(row.PrimarySmtpAddress).toLowerCase(), type: text(row.RecipientTypeDetails) };
  });
}

export interface SendAsPair {
  /** The person's mailbox. */
  user: string;
  /** The account it lets send as it (the trustee). */
  account: string;
}

interface RecipientPermissionRow {
  AccessRights?: string[] | string;
  AccessControlType?: string;
}

function hasSendAsRight(rows: RecipientPermissionRow[]): boolean {
  return rows.some((r) => {
    const rights = Array.isArray(r.AccessRights) ? r.AccessRights : text(r.AccessRights).split(/[\s,]+/);
    return rights.includes('SendAs') && r.AccessControlType !== 'Deny';
  });
}

/**
 * Which of these mailboxes grant SendAs to their account now: `Get-RecipientPermission -Identity <user> -Trustee
 * <account>` for each pair, in one round. A mailbox that is gone holds no grant.
 */
export async function readSendAsGrants(exo: ExchangeBackend, pairs: SendAsPair[]): Promise<boolean[]> {
  const answers = await invokeAll(
    exo,
    pairs.map((p) => ({
      cmdlet: 'Get-RecipientPermission',
      parameters: { Identity: p.user, Trustee: p.account, AccessRights: ['SendAs'] },
    })),
  );
  return answers.map((r) => {
    if (r instanceof ExchangeError) {
      if (r.kind === 'not-found') return false;
      throw r;
    }
    return hasSendAsRight(r as RecipientPermissionRow[]);
  });
}

/** Add-RecipientPermission: the user's mailbox lets the account send as it ("already present" is success). */
export async function addSendAsGrant(exo: ExchangeBackend, pair: SendAsPair): Promise<void> {
  try {
    await exo.invoke('Add-RecipientPermission', {
      Identity: pair.user,
      Trustee: pair.account,
      AccessRights: ['SendAs'],
      Confirm: false,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'already-exists') return;
    throw err;
  }
}

/** Remove-RecipientPermission of that one grant (a mailbox or grant that is gone already is success). */
export async function removeSendAsGrant(exo: ExchangeBackend, pair: SendAsPair): Promise<void> {
  try {
    await exo.invoke('Remove-RecipientPermission', {
      Identity: pair.user,
      Trustee: pair.account,
      AccessRights: ['SendAs'],
      Confirm: false,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

/** Runs `write` for each pair, at most `width` at a time (Exchange throttles a burst of writes). */
export function forEachPair(pairs: SendAsPair[], write: (p: SendAsPair) => Promise<void>, width = 4): Promise<void> {
  return inParallel(pairs, width, write);
}
