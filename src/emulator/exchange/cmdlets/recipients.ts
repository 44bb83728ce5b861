/**
 * Recipients and organization settings: Get-Mailbox, Get/Set-CASMailbox, Get-DistributionGroup,
 * Get-DistributionGroupMember, Get/Set-TransportConfig, Get-OrganizationConfig.
 */
import type { EnumType } from '../params.js';
import { confirmAndWhatIf, enumArray, nullableBool, bool, resultSize, str, sw } from '../params.js';
import {
  casMailboxRow,
  groupRow,
  mailboxRow,
  mailEnabledGroups,
  memberRow,
  output,
  resolveGroup,
  resolveMailbox,
} from '../model.js';
import { applyResultSize, filterError, filterUsers, noChangeWarning, type CmdletDefinition } from './common.js';

const RECIPIENT_TYPE_DETAILS: EnumType = {
  typeName: 'Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails[]',
  values: [
    'DiscoveryMailbox',
    'EquipmentMailbox',
    'GroupMailbox',
    'LinkedMailbox',
    'LinkedRoomMailbox',
    'RoomMailbox',
    'SchedulingMailbox',
    'SharedMailbox',
    'TeamMailbox',
    'UserMailbox',
  ],
};

const TRANSPORT_SETTINGS = 'Transport Settings';

export const recipientCmdlets: CmdletDefinition[] = [
  {
    name: 'Get-Mailbox',
    params: [
      str('Identity'),
      resultSize(),
      enumArray('RecipientTypeDetails', RECIPIENT_TYPE_DETAILS),
      str('Filter'),
      sw('IncludeInactiveMailbox'),
    ],
    run({ tenant }, p) {
      const identity = p.string('Identity');
      if (identity) return output([mailboxRow(tenant, resolveMailbox(tenant, identity))]);
      const filter = p.string('Filter') ?? undefined;
      if (filter !== undefined) {
        const err = filterError('Filter', filter);
        if (err) throw err;
      }
      const types = p.list('RecipientTypeDetails');
      const users = filterUsers(
        tenant,
        tenant.users.filter((u) => u.mailbox && (!types || types.includes(u.mailbox.recipientTypeDetails))),
        filter,
      );
      return applyResultSize(
        users.map((u) => mailboxRow(tenant, u)),
        p,
      );
    },
  },
  {
    name: 'Get-CASMailbox',
    params: [str('Identity'), resultSize(), str('Filter')],
    run({ tenant }, p) {
      const identity = p.string('Identity');
      if (identity) return output([casMailboxRow(tenant, resolveMailbox(tenant, identity))]);
      const filter = p.string('Filter') ?? undefined;
      if (filter !== undefined) {
        const err = filterError('Filter', filter);
        if (err) throw err;
      }
      const users = filterUsers(
        tenant,
        tenant.users.filter((u) => u.mailbox),
        filter,
      );
      return applyResultSize(
        users.map((u) => casMailboxRow(tenant, u)),
        p,
      );
    },
  },
  {
    name: 'Set-CASMailbox',
    params: [str('Identity', true), nullableBool('SmtpClientAuthenticationDisabled'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const user = resolveMailbox(tenant, p.string('Identity')!);
      const mbx = user.mailbox!;
      const next = p.nullableBool('SmtpClientAuthenticationDisabled');
      if (next === undefined || next === mbx.smtpClientAuthenticationDisabled)
        return output([], [noChangeWarning(mbx.alias)]);
      mbx.smtpClientAuthenticationDisabled = next;
      store.changed();
      return output();
    },
  },
  {
    name: 'Get-DistributionGroup',
    params: [str('Identity'), resultSize()],
    run({ tenant }, p) {
      const identity = p.string('Identity');
      if (identity) return output([groupRow(tenant, resolveGroup(tenant, identity))]);
      return applyResultSize(
        mailEnabledGroups(tenant).map((g) => groupRow(tenant, g)),
        p,
      );
    },
  },
  {
    name: 'Get-DistributionGroupMember',
    params: [str('Identity', true), resultSize(), sw('IgnoreDefaultScope'), sw('ReadFromDomainController')],
    run({ tenant }, p) {
      const group = resolveGroup(tenant, p.string('Identity')!);
      const members = group.members
        .map((id) => tenant.users.find((u) => u.entity.id === id))
        .filter((u) => u !== undefined)
        .map((u) => memberRow(tenant, u));
      return applyResultSize(members, p);
    },
  },
  {
    name: 'Get-TransportConfig',
    params: [str('Identity')],
    run({ tenant }) {
      return output([
        {
          Identity: TRANSPORT_SETTINGS,
          Name: TRANSPORT_SETTINGS,
          OrganizationId: tenant.domains[0],
          SmtpClientAuthenticationDisabled: tenant.exchange.transportConfig.SmtpClientAuthenticationDisabled,
          AllowLegacyTLSClients: false,
          IsValid: true,
          ObjectState: 'Unchanged',
        },
      ]);
    },
  },
  {
    name: 'Set-TransportConfig',
    params: [str('Identity'), bool('SmtpClientAuthenticationDisabled'), sw('Force'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const next = p.bool('SmtpClientAuthenticationDisabled');
      const config = tenant.exchange.transportConfig;
      if (next === undefined || next === config.SmtpClientAuthenticationDisabled)
        return output([], [noChangeWarning(TRANSPORT_SETTINGS)]);
      config.SmtpClientAuthenticationDisabled = next;
      store.changed();
      return output();
    },
  },
  {
    name: 'Get-OrganizationConfig',
    params: [str('Identity')],
    run({ tenant }) {
      return output([
        {
          Name: tenant.domains[0],
          Identity: tenant.domains[0],
          DisplayName: tenant.displayName,
          Guid: tenant.id,
          OrganizationId: tenant.domains[0],
          OAuth2ClientProfileEnabled: tenant.exchange.organizationConfig.OAuth2ClientProfileEnabled,
          IsDehydrated: false,
          IsValid: true,
          ObjectState: 'Unchanged',
        },
      ]);
    },
  },
];
