/**
 * People who send through a shared account (`--send-as-users`, `--send-as-group`): enaio® webclient sends every
 * user's mail through one SMTP account, Xeams relays other senders the same way, so each person's mailbox must grant
 * SendAs to that account, or Exchange answers 554 5.2.252 SendAsDenied.
 *
 * - a data node (the preflight): the group's members, every listed user a mailbox of the tenant, the account one of
 *   the app's mailboxes; bad input stops the run before any write (exit 2);
 * - a managed node: grants SendAs where it is missing, and revokes it where sendasapp granted it and the user is no
 *   longer in the config. What sendasapp granted is recorded in the app registration's tags
 *   (`sendasapp:send-as:<account>:<user>`), written before a grant and cleared after a revoke, so that a run stopped
 *   in between never leaves a grant of ours unrecorded. A grant to another trustee is never read or touched; a grant
 *   to the account that a person made for someone outside the config is not in the record, so it stays.
 */
import { sendAsAccountOf } from '../../config/index.js';
import { APP_TAG_MAX, readAppTags, tagsUnder, withTagsUnder, writeAppTags } from '../../entra/index.js';
import {
  addSendAsGrant,
  ExchangeError,
  forEachPair,
  groupMemberRecipients,
  readSendAsGrants,
  readSendAsMailboxes,
  removeSendAsGrant,
  type SendAsPair,
} from '../../exchange/index.js';
import type { TenantContext } from '../context.js';
import { CheckFailure, type DataNode, type ManagedNode, type ManagedRef, type Ref } from '../model.js';
import type { AppState } from './entra.js';
import type { MailboxFacts } from './facts.js';

export const SEND_AS_KEYS = {
  users: 'tenant.sendAsUsers',
  grants: 'exchange.sendAsUsers',
} as const;

/** The prefix of the app tags that record the SendAs grants sendasapp made. */
export const SEND_AS_TAG_PREFIX = 'sendasapp:send-as:';

export interface SendAsFacts {
  /** The shared account (the trustee of every grant). */
  account: string;
  /** The people who send through it: the listed ones, then the group's members (primary addresses). */
  users: string[];
  group?: { name: string; members: string[] };
}

/** The members of the send-as group: it exists, holds only mailboxes, and has members. */
async function readSendAsGroup(ctx: TenantContext, name: string): Promise<string[]> {
  let members;
  try {
    members = await groupMemberRecipients(ctx.exchange, name);
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found')
      throw new CheckFailure(
        'input',
        `the send-as group ${name} was not found in ${ctx.options.tenant}`,
        'give the address or name of a mail-enabled group of this tenant whose members send through the shared account',
        '--send-as-group',
      );
    throw err;
  }
  const others = members.filter((m) => !/Mailbox$/i.test(m.type));
  if (others.length > 0)
    throw new CheckFailure(
      'input',
      `the send-as group ${name} has members that are not mailboxes: ${others.map((m) => `${m.address || m.name} (${m.type})`).join(', ')}`,
      'keep only the mailboxes of the people who send in the group (SendAs is granted on a mailbox)',
      '--send-as-group',
    );
  const addresses = members.map((m) => m.address).filter(Boolean);
  if (addresses.length === 0)
    throw new CheckFailure(
      'input',
      `the send-as group ${name} has no members`,
      'add the mailboxes of the people who send through the shared account to the group',
      '--send-as-group',
    );
  return addresses;
}

const tagOf = (p: SendAsPair): string => `${p.account}:${p.user}`;

/** The record in the app's tags: the pairs sendasapp granted (tags it cannot read are left alone). */
export function recordedPairs(tags: string[]): SendAsPair[] {
  return tagsUnder(tags, SEND_AS_TAG_PREFIX).flatMap((t) => {
    const [account, user, ...rest] = t.split(':');
    return account && user && rest.length === 0 ? [{ account, user }] : [];
  });
}

/**
 * The preflight of the send-as users: which account, which people. Every listed address must be a mailbox of the
 * tenant (Get-Mailbox, one round with the group's members); the account must be one of the app's mailboxes (the
 * proof and the sending system sign in as it).
 */
export function sendAsUsersNode(inputs: {
  mailboxes: Ref<MailboxFacts>;
}): DataNode<SendAsFacts, { mailboxes: Ref<MailboxFacts> }> {
  return {
    kind: 'data',
    key: SEND_AS_KEYS.users,
    title: 'People who send through the shared account (--send-as-users, --send-as-group)',
    inputs,
    async read(ctx, { mailboxes: facts }) {
      const o = ctx.options;
      const account = sendAsAccountOf(o);
      if (!account || !facts.mailboxes.includes(account))
        throw new CheckFailure(
          'input',
          `the shared account ${account ?? '(none)'} is not one of the app's mailboxes (${facts.mailboxes.join(', ')})`,
          'give --send-as-account one of the mailboxes the app sends as (--mailbox, or a member of --group)',
          '--send-as-account',
        );
      const listed = o.sendAsUsers ?? [];
      // Issued together: one batch (REST) or one bridge message after another (pwsh).
      const [members, found] = await Promise.all([
        o.sendAsGroup ? readSendAsGroup(ctx, o.sendAsGroup) : Promise.resolve(undefined),
        readSendAsMailboxes(ctx.exchange, listed),
      ]);
      const missing = listed.filter((_, i) => !found[i]);
      if (missing.length > 0)
        throw new CheckFailure(
          'input',
          `${missing.join(', ')} ${missing.length > 1 ? 'are not mailboxes' : 'is not a mailbox'} in ${o.tenant}`,
          'give the mailbox addresses of people of this tenant (a group goes in --send-as-group)',
          '--send-as-users',
        );
      const users = [...new Set([...found.map((m, i) => m!.address || listed[i]!), ...(members ?? [])])].filter(
        (u) => u !== account,
      );
      if (users.length === 0)
        throw new CheckFailure(
          'input',
          `the send-as group ${o.sendAsGroup} has no members besides the shared account ${account}`,
          'add the mailboxes of the people who send through the shared account to the group',
          '--send-as-group',
        );
      const long = users.find((u) => SEND_AS_TAG_PREFIX.length + tagOf({ account, user: u }).length > APP_TAG_MAX);
      if (long)
        throw new CheckFailure(
          'input',
          `the addresses ${long} and ${account} are too long together for the app's record of the grant (${APP_TAG_MAX} characters)`,
          'use a shorter address of the mailbox',
          '--send-as-users',
        );
      return {
        account,
        users,
        ...(o.sendAsGroup && members ? { group: { name: o.sendAsGroup, members } } : {}),
      };
    },
  };
}

export interface SendAsState {
  account: string;
  /** The configured people and the recorded ones, each with whether its mailbox grants SendAs to its account now. */
  pairs: Array<SendAsPair & { granted: boolean }>;
  /** What the app's tags say sendasapp granted. */
  recorded: SendAsPair[];
  /** Whether a record can be kept: not for a vendor's app (its registration is not in this home tenant). */
  recordable: boolean;
  /** Revoked by this run (after apply). */
  revoked: SendAsPair[];
}

export type SendAsChange =
  | ({ op: 'grant' } & SendAsPair)
  /** A grant that matches the config but is not in the record yet (made by hand, or by a run stopped midway). */
  | ({ op: 'record' } & SendAsPair)
  | ({ op: 'revoke' } & SendAsPair)
  /** In the record, but the grant is gone already. */
  | ({ op: 'forget' } & SendAsPair);

type GrantInputs = { users: Ref<SendAsFacts>; app: ManagedRef<AppState> };

const samePair = (a: SendAsPair, b: SendAsPair): boolean => a.account === b.account && a.user === b.user;

/** The SendAs grants of the send-as users to the shared account, kept in step with the config. */
export function sendAsGrantsNode(
  ctx: TenantContext,
  inputs: GrantInputs,
): ManagedNode<SendAsState, GrantInputs, SendAsChange> {
  return {
    kind: 'managed',
    key: SEND_AS_KEYS.grants,
    title: `SendAs for the people who send through ${sendAsAccountOf(ctx.options) ?? 'the shared account'}`,
    inputs,
    // The grants are read whether or not the app exists yet; only the record needs it.
    readsWith: ['users'],
    async read(_ctx, { users: facts, app }) {
      const home = app?.app;
      const wanted = facts.users.map((user) => ({ user, account: facts.account }));
      const [tags, held] = await Promise.all([
        home && !app.external ? readAppTags(ctx.homeGraph, home.id) : Promise.resolve([]),
        readSendAsGrants(ctx.exchange, wanted),
      ]);
      const recorded = recordedPairs(tags);
      const extra = recorded.filter((r) => !wanted.some((w) => samePair(w, r)));
      const extraHeld = await readSendAsGrants(ctx.exchange, extra);
      // Nothing granted and nothing recorded: the resource is not there yet (its changes are a create).
      if (recorded.length === 0 && !held.some(Boolean)) return undefined;
      return {
        account: facts.account,
        pairs: [
          ...wanted.map((p, i) => ({ ...p, granted: held[i]! })),
          ...extra.map((p, i) => ({ ...p, granted: extraHeld[i]! })),
        ],
        recorded,
        recordable: !app?.external,
        revoked: [],
      };
    },
    diff(current, { users: facts }) {
      if (!current) return facts.users.map((user) => ({ op: 'grant' as const, user, account: facts.account }));
      const changes: SendAsChange[] = [];
      const isWanted = (p: SendAsPair): boolean => p.account === facts.account && facts.users.includes(p.user);
      const isRecorded = (p: SendAsPair): boolean => current.recorded.some((r) => samePair(r, p));
      for (const p of current.pairs) {
        const pair = { user: p.user, account: p.account };
        if (isWanted(p)) {
          if (!p.granted) changes.push({ op: 'grant', ...pair });
          else if (current.recordable && !isRecorded(p)) changes.push({ op: 'record', ...pair });
        } else if (isRecorded(p)) changes.push({ op: p.granted ? 'revoke' : 'forget', ...pair });
      }
      return changes;
    },
    async apply(ctx, changes, current, { app, users: facts }) {
      const home = app?.app;
      const state: SendAsState = current ?? {
        account: facts.account,
        pairs: facts.users.map((user) => ({ user, account: facts.account, granted: false })),
        recorded: [],
        recordable: !app?.external,
        revoked: [],
      };
      const record = [...state.recorded];
      const writeRecord = async (): Promise<void> => {
        if (!home || app.external) return;
        // Read again just before writing: the tags of others are kept as they are now.
        const latest = await readAppTags(ctx.homeGraph, home.id);
        const next = withTagsUnder(latest, SEND_AS_TAG_PREFIX, record.map(tagOf).sort());
        if (next.length !== latest.length || next.some((t, i) => t !== latest[i]))
          await writeAppTags(ctx.homeGraph, home.id, next);
      };
      const of = (...ops: SendAsChange['op'][]): SendAsPair[] =>
        changes.filter((c) => ops.includes(c.op)).map((c) => ({ user: c.user, account: c.account }));
      const adding = of('grant', 'record');
      const removing = of('revoke', 'forget');
      // Recorded before the grant: a run stopped in between leaves a record, never an unrecorded grant of ours.
      if (adding.length > 0) {
        for (const p of adding) if (!record.some((r) => samePair(r, p))) record.push(p);
        await writeRecord();
      }
      const granting = of('grant');
      await forEachPair(granting, (p) => addSendAsGrant(ctx.exchange, p));
      const revoking = of('revoke');
      await forEachPair(revoking, (p) => removeSendAsGrant(ctx.exchange, p));
      // Cleared after the revoke: a run stopped in between revokes it next time.
      if (removing.length > 0) {
        for (const p of removing) {
          const i = record.findIndex((r) => samePair(r, p));
          if (i >= 0) record.splice(i, 1);
        }
        await writeRecord();
      }
      return {
        ...state,
        pairs: state.pairs
          .filter((p) => !removing.some((r) => samePair(r, p)))
          .map((p) => (granting.some((g) => samePair(g, p)) ? { ...p, granted: true } : p)),
        recorded: home && !app.external ? record : [],
        revoked: revoking,
      };
    },
    describe(c) {
      switch (c.op) {
        case 'grant':
          return `Add-RecipientPermission -Identity ${c.user} -Trustee ${c.account} -AccessRights SendAs`;
        case 'record':
          return `SendAs on ${c.user} for ${c.account} is there and configured: recorded as managed (app tag)`;
        case 'revoke':
          return `Remove-RecipientPermission -Identity ${c.user} -Trustee ${c.account} -AccessRights SendAs (granted by sendasapp, no longer configured)`;
        case 'forget':
          return `SendAs on ${c.user} for ${c.account} is gone already: dropped from the record (app tag)`;
      }
    },
    actionOf: (c) => (c.op === 'grant' ? 'create' : c.op === 'revoke' ? 'delete' : 'update'),
  };
}

/** What the JSON result says of the send-as users (after the run, or as planned). */
export interface SendAsSummary {
  account: string;
  group?: string;
  users: string[];
  /** Configured people whose mailbox grants SendAs to the account. */
  granted: string[];
  /** Configured people whose mailbox does not (yet). */
  missing: string[];
  /** Granted by sendasapp, no longer configured, still there (plan: apply revokes them). */
  stale: string[];
  /** Revoked by this run. */
  revoked: string[];
}

export function sendAsSummary(facts: SendAsFacts, state: SendAsState | undefined): SendAsSummary {
  const mine = (state?.pairs ?? []).filter((p) => p.account === facts.account && facts.users.includes(p.user));
  const isGranted = (u: string): boolean => mine.some((p) => p.user === u && p.granted);
  const wanted = (p: SendAsPair): boolean => p.account === facts.account && facts.users.includes(p.user);
  return {
    account: facts.account,
    ...(facts.group ? { group: facts.group.name } : {}),
    users: facts.users,
    granted: facts.users.filter(isGranted),
    missing: facts.users.filter((u) => !isGranted(u)),
    stale: (state?.pairs ?? [])
      .filter((p) => p.granted && !wanted(p) && state!.recorded.some((r) => samePair(r, p)))
      .map((p) => p.user),
    revoked: (state?.revoked ?? []).map((p) => p.user),
  };
}
