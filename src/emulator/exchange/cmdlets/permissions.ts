/**
 * Mailbox access: Get/Add/Remove-MailboxPermission (FullAccess …) and Get/Add/Remove-RecipientPermission (SendAs).
 *
 * Every Add stores its own record with its own `grantedAtMs` (the SMTP permission-cache knob reads it); the Get
 * cmdlets show one row per trustee with the rights merged, and the mailbox's own NT AUTHORITY\SELF entry first.
 */
import type { EmulatorStore } from '../../store.js';
import type { MailboxPermissionRecord, RecipientPermissionRecord, TenantRecord, UserRecord } from '../../state.js';
import { confirmAndWhatIf, enumArray, enumOne, resultSize, str, sw, type EnumType } from '../params.js';
import {
  output,
  resolveMailbox,
  resolvePrincipal,
  sidFor,
  trusteeDisplay,
  type Principal,
  type Row,
} from '../model.js';
import { applyResultSize, type CmdletDefinition } from './common.js';

const MAILBOX_RIGHTS: EnumType = {
  typeName: 'Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]',
  values: ['ChangeOwner', 'ChangePermission', 'DeleteItem', 'ExternalAccount', 'FullAccess', 'ReadPermission'],
};

const INHERITANCE: EnumType = {
  typeName: 'System.DirectoryServices.ActiveDirectorySecurityInheritance',
  values: ['None', 'All', 'Descendents', 'SelfAndChildren', 'Children'],
};

const RECIPIENT_RIGHTS: EnumType = {
  typeName: 'Microsoft.Exchange.Management.RecipientTasks.RecipientAccessRight[]',
  values: ['SendAs'],
};

const SELF = 'NT AUTHORITY\\SELF';
const SELF_SID = 'S-1-5-10';

type Trustee = { kind: 'servicePrincipal' | 'user'; id: string };
const sameTrustee = (a: Trustee, b: Trustee): boolean => a.kind === b.kind && a.id === b.id;
const trusteeKey = (t: Trustee): string => `${t.kind}:${t.id}`;

function alreadyPresent(mailbox: UserRecord, principal: Principal): string {
  return `The appropriate access control entry is already present on the object "${mailbox.mailbox!.alias}" for account "${principal.display}".`;
}

function aceMissing(mailbox: UserRecord, principal: Principal): string {
  return `Can't remove the access control entry on the object "${mailbox.mailbox!.alias}" for account "${principal.display}" because the ACE doesn't exist on the object.`;
}

function orderRights(rights: Iterable<string>, e: EnumType): string[] {
  const set = new Set(rights);
  return e.values.filter((v) => set.has(v));
}

// ---- FullAccess and friends ----

function mailboxPermissionRows(store: EmulatorStore, tenant: TenantRecord, mailbox: UserRecord, only?: Trustee): Row[] {
  const identity = mailbox.mailbox!.alias;
  const rows: Row[] = [];
  if (!only)
    rows.push({
      AccessRights: ['FullAccess', 'ReadPermission'],
      Deny: false,
      InheritanceType: 'All',
      User: SELF,
      UserSid: SELF_SID,
      Identity: identity,
      IsInherited: false,
      IsValid: true,
      ObjectState: 'Unchanged',
    });
  const groups = new Map<string, { trustee: Trustee; inheritance: string; rights: Set<string> }>();
  for (const r of tenant.exchange.mailboxPermissions) {
    if (r.mailboxUserId !== mailbox.entity.id) continue;
    if (only && !sameTrustee(r.trustee, only)) continue;
    // A grant made moments ago is not in the answer until it has replicated.
    if (!store.exchangeSees(r.grantedAtMs)) continue;
    const key = `${trusteeKey(r.trustee)}|${r.inheritanceType}`;
    const g = groups.get(key) ?? { trustee: r.trustee, inheritance: r.inheritanceType, rights: new Set<string>() };
    r.accessRights.forEach((a) => g.rights.add(a));
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    rows.push({
      AccessRights: orderRights(g.rights, MAILBOX_RIGHTS),
      Deny: false,
      InheritanceType: g.inheritance,
      User: trusteeDisplay(tenant, g.trustee),
      UserSid: sidFor(g.trustee.id),
      Identity: identity,
      IsInherited: false,
      IsValid: true,
      ObjectState: 'Unchanged',
    });
  }
  return rows;
}

// ---- SendAs ----

function recipientPermissionRows(
  store: EmulatorStore,
  tenant: TenantRecord,
  mailbox: UserRecord,
  only: Trustee | undefined,
  rights: string[] | undefined,
): Row[] {
  if (rights && !rights.includes('SendAs')) return [];
  const identity = mailbox.mailbox!.alias;
  const row = (trustee: string, sid: string): Row => ({
    Identity: identity,
    Trustee: trustee,
    TrusteeSidString: sid,
    AccessControlType: 'Allow',
    AccessRights: ['SendAs'],
    IsInherited: false,
    InheritanceType: 'None',
    IsValid: true,
    ObjectState: 'Unchanged',
  });
  const rows: Row[] = only ? [] : [row(SELF, SELF_SID)];
  const seen = new Set<string>();
  for (const r of tenant.exchange.recipientPermissions) {
    if (r.mailboxUserId !== mailbox.entity.id || !r.accessRights.includes('SendAs')) continue;
    if (only && !sameTrustee(r.trustee, only)) continue;
    if (!store.exchangeSees(r.grantedAtMs) || seen.has(trusteeKey(r.trustee))) continue;
    seen.add(trusteeKey(r.trustee));
    rows.push(row(trusteeDisplay(tenant, r.trustee), sidFor(r.trustee.id)));
  }
  return rows;
}

export const permissionCmdlets: CmdletDefinition[] = [
  {
    name: 'Get-MailboxPermission',
    params: [
      str('Identity', true),
      str('User'),
      sw('Owner'),
      resultSize(),
      sw('GroupMailbox'),
      sw('ReadFromDomainController'),
      sw('SoftDeletedMailbox'),
      sw('IncludeSoftDeletedUserPermissions'),
      sw('IncludeUnresolvedPermissions'),
    ],
    run({ store, tenant }, p) {
      const mailbox = resolveMailbox(tenant, p.string('Identity')!);
      if (p.bool('Owner')) return output([{ Identity: mailbox.mailbox!.alias, Owner: SELF }]);
      const user = p.string('User');
      const only = user ? resolvePrincipal(tenant, user).trustee : undefined;
      return applyResultSize(mailboxPermissionRows(store, tenant, mailbox, only), p);
    },
  },
  {
    name: 'Add-MailboxPermission',
    params: [
      str('Identity', true),
      str('User', true),
      enumArray('AccessRights', MAILBOX_RIGHTS, true),
      { name: 'AutoMapping', type: { kind: 'bool' } },
      enumOne('InheritanceType', INHERITANCE),
      sw('GroupMailbox'),
      sw('IgnoreDefaultScope'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const mailbox = resolveMailbox(tenant, p.string('Identity')!);
      const principal = resolvePrincipal(tenant, p.string('User')!);
      const requested = p.list('AccessRights')!;
      const held = new Set(
        tenant.exchange.mailboxPermissions
          .filter((r) => r.mailboxUserId === mailbox.entity.id && sameTrustee(r.trustee, principal.trustee))
          .flatMap((r) => r.accessRights),
      );
      const added = requested.filter((r) => !held.has(r));
      if (added.length === 0) return output([], [alreadyPresent(mailbox, principal)]);
      const record: MailboxPermissionRecord = {
        mailboxUserId: mailbox.entity.id,
        trustee: { ...principal.trustee },
        accessRights: orderRights(added, MAILBOX_RIGHTS),
        inheritanceType: p.string('InheritanceType') ?? 'All',
        autoMapping: p.bool('AutoMapping') ?? true,
        grantedAtMs: store.now(),
      };
      tenant.exchange.mailboxPermissions.push(record);
      store.changed();
      return output([
        {
          Identity: mailbox.mailbox!.alias,
          User: principal.display,
          AccessRights: record.accessRights,
          IsInherited: false,
          Deny: false,
          InheritanceType: record.inheritanceType,
        },
      ]);
    },
  },
  {
    name: 'Remove-MailboxPermission',
    params: [
      str('Identity', true),
      str('User', true),
      enumArray('AccessRights', MAILBOX_RIGHTS, true),
      enumOne('InheritanceType', INHERITANCE),
      sw('BypassMasterAccountSid'),
      sw('GroupMailbox'),
      sw('IgnoreDefaultScope'),
      sw('SoftDeletedMailbox'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const mailbox = resolveMailbox(tenant, p.string('Identity')!);
      const principal = resolvePrincipal(tenant, p.string('User')!);
      const rights = new Set(p.list('AccessRights')!);
      const inheritance = p.string('InheritanceType');
      let removed = false;
      const kept: MailboxPermissionRecord[] = [];
      for (const r of tenant.exchange.mailboxPermissions) {
        const target =
          r.mailboxUserId === mailbox.entity.id &&
          sameTrustee(r.trustee, principal.trustee) &&
          (!inheritance || r.inheritanceType === inheritance);
        if (!target || !r.accessRights.some((a) => rights.has(a))) {
          kept.push(r);
          continue;
        }
        removed = true;
        const rest = r.accessRights.filter((a) => !rights.has(a));
        if (rest.length > 0) kept.push({ ...r, accessRights: rest });
      }
      if (!removed) return output([], [aceMissing(mailbox, principal)]);
      tenant.exchange.mailboxPermissions = kept;
      store.changed();
      return output();
    },
  },
  {
    name: 'Get-RecipientPermission',
    params: [
      str('Identity'),
      str('Trustee'),
      enumArray('AccessRights', RECIPIENT_RIGHTS),
      resultSize(),
      sw('ReadFromDomainController'),
    ],
    run({ store, tenant }, p) {
      const identity = p.string('Identity');
      const mailboxes = identity ? [resolveMailbox(tenant, identity)] : tenant.users.filter((u) => u.mailbox);
      const trustee = p.string('Trustee');
      const only = trustee ? resolvePrincipal(tenant, trustee).trustee : undefined;
      const rights = p.list('AccessRights');
      return applyResultSize(
        mailboxes.flatMap((m) => recipientPermissionRows(store, tenant, m, only, rights)),
        p,
      );
    },
  },
  {
    name: 'Add-RecipientPermission',
    params: [
      str('Identity', true),
      str('Trustee', true),
      enumArray('AccessRights', RECIPIENT_RIGHTS, true),
      sw('SkipDomainValidationForMailContact'),
      sw('SkipDomainValidationForMailUser'),
      sw('SkipDomainValidationForSharedMailbox'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const mailbox = resolveMailbox(tenant, p.string('Identity')!);
      const principal = resolvePrincipal(tenant, p.string('Trustee')!);
      const exists = tenant.exchange.recipientPermissions.some(
        (r) =>
          r.mailboxUserId === mailbox.entity.id &&
          sameTrustee(r.trustee, principal.trustee) &&
          r.accessRights.includes('SendAs'),
      );
      if (exists) return output([], [alreadyPresent(mailbox, principal)]);
      const record: RecipientPermissionRecord = {
        mailboxUserId: mailbox.entity.id,
        trustee: { ...principal.trustee },
        accessRights: ['SendAs'],
        grantedAtMs: store.now(),
      };
      tenant.exchange.recipientPermissions.push(record);
      store.changed();
      return output([
        {
          Identity: mailbox.mailbox!.alias,
          Trustee: principal.display,
          AccessControlType: 'Allow',
          AccessRights: ['SendAs'],
          IsInherited: false,
          InheritanceType: 'None',
        },
      ]);
    },
  },
  {
    name: 'Remove-RecipientPermission',
    params: [
      str('Identity', true),
      str('Trustee', true),
      enumArray('AccessRights', RECIPIENT_RIGHTS, true),
      sw('SkipDomainValidationForMailContact'),
      sw('SkipDomainValidationForMailUser'),
      sw('SkipDomainValidationForSharedMailbox'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const mailbox = resolveMailbox(tenant, p.string('Identity')!);
      const principal = resolvePrincipal(tenant, p.string('Trustee')!);
      const before = tenant.exchange.recipientPermissions.length;
      tenant.exchange.recipientPermissions = tenant.exchange.recipientPermissions.filter(
        (r) => !(r.mailboxUserId === mailbox.entity.id && sameTrustee(r.trustee, principal.trustee)),
      );
      if (tenant.exchange.recipientPermissions.length === before) return output([], [aceMissing(mailbox, principal)]);
      store.changed();
      return output();
    },
  },
];
