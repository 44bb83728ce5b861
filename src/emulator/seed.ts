/**
 * The emulator's initial world: the default one (contoso + fabrikam) or one described by a seed file (JSON or YAML).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { mergeKnobs } from './knobs.js';
import { buildVaults, KEYVAULT_APP_ID, vaultSeedSchema } from './keyvault/index.js';
import {
  type AppRoleAssignmentRecord,
  type ApplicationRecord,
  type GroupRecord,
  type ServicePrincipalRecord,
  type TenantRecord,
  type UserRecord,
  type World,
  type DelegatedAdminRelationshipRecord,
  defaultKnobs,
  sha256Hex,
  stableGuid,
} from './state.js';

/** A federatedIdentityCredential issuer that stands for the emulator's own OIDC issuer (`{authority}/oidc`). */
export const EMULATOR_OIDC_ISSUER = 'emulator';

export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** App roles of Office 365 Exchange Online as first-party data (ids from public manifests; see m365-facts.md §1). */
export const EXCHANGE_APP_ROLES: Array<[string, string, string]> = [
  ['7146a1f0-8703-45b3-9eae-527a64c00995', 'SMTP.SendAsApp', 'Send emails from mailboxes using SMTP AUTH'],
  ['dc50a0fb-09a3-484d-be87-e023b12c6440', 'Exchange.ManageAsApp', 'Manage Exchange As Application'],
  [
    'dc890d15-9560-4a4c-9b7f-a736ec74ec40',
    'full_access_as_app',
    'Use Exchange Web Services with full access to all mailboxes',
  ],
  ['5e5addcd-3e8d-4e90-baf5-964efab2b20a', 'IMAP.AccessAsApp', 'IMAP.AccessAsApp'],
  ['cb842b43-da6e-4506-86fe-bb12199c656d', 'POP.AccessAsApp', 'POP.AccessAsApp'],
  ['bf24470f-10c1-436d-8d53-7b997eb473be', 'User.Read.All', 'Read all users full profiles'],
];

/** App roles of Microsoft Graph that the product and its tests touch. */
export const GRAPH_APP_ROLES: Array<[string, string, string]> = [
  ['1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9', 'Application.ReadWrite.All', 'Read and write all applications'],
  [
    '18a4783c-866b-4cc7-a460-3d5e5662c884',
    'Application.ReadWrite.OwnedBy',
    'Manage apps that this app creates or owns',
  ],
  ['9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', 'Application.Read.All', 'Read all applications'],
  [
    '06b708a9-e830-4db3-a914-8e69da51d44f',
    'AppRoleAssignment.ReadWrite.All',
    'Manage app permission grants and app role assignments',
  ],
  ['7ab1d382-f21e-4acd-a863-ba3e13f7da61', 'Directory.Read.All', 'Read directory data'],
  ['19dbc75e-c2e2-444c-a770-ec69d8559fc7', 'Directory.ReadWrite.All', 'Read and write directory data'],
  ['498476ce-e0fe-48b0-b801-37ba7e2685c6', 'Organization.Read.All', 'Read organization information'],
  ['dbb9058a-0e50-45d7-ae91-66909b5d4664', 'Domain.Read.All', 'Read domains'],
  ['246dd0d5-5bd0-4def-940b-0421030a5b68', 'Policy.Read.All', "Read your organization's policies"],
  ['df021288-bdef-4463-88db-98f22de89214', 'User.Read.All', 'Read all users full profiles'],
  ['5b567255-7703-4780-807c-7be8301ae99b', 'Group.Read.All', 'Read all groups'],
  ['98830695-27a2-44f7-8c18-0c3ebc9698f6', 'GroupMember.Read.All', 'Read all group memberships'],
  ['b633e1c5-b582-4048-a93e-9f11b44c7e96', 'Mail.Send', 'Send mail as any user'],
];

const MICROSOFT_TENANT_ID = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';

const mailboxSeed = z.union([
  z.string(),
  z.object({
    name: z.string(),
    displayName: z.string().optional(),
    smtpClientAuthenticationDisabled: z.boolean().nullable().optional(),
    shared: z.boolean().optional(),
    /** Graph user properties (Exchange's Department, Company, Office, City, Title in recipient filters). */
    department: z.string().optional(),
    companyName: z.string().optional(),
    officeLocation: z.string().optional(),
    city: z.string().optional(),
    jobTitle: z.string().optional(),
    /** Exchange's CustomAttribute1–15. */
    customAttributes: z
      .record(z.string().regex(/^CustomAttribute([1-9]|1[0-5])$/, 'CustomAttribute1 … CustomAttribute15'), z.string())
      .optional(),
  }),
]);

const USER_PROPERTIES = ['department', 'companyName', 'officeLocation', 'city', 'jobTitle'] as const;

const tenantSeed = z.object({
  domain: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'a DNS domain such as contoso.onmicrosoft.com'),
  id: z.string().uuid().optional(),
  displayName: z.string().optional(),
  mailboxes: z.array(mailboxSeed).default(['scanner', 'ap', 'it', 'admin']),
  groups: z
    .array(z.object({ name: z.string(), members: z.array(z.string()) }))
    .default([{ name: 'smtp-senders', members: ['scanner', 'ap'] }]),
  smtpClientAuthenticationDisabled: z.boolean().default(true),
  oauth2ClientProfileEnabled: z.boolean().default(true),
  policy: z
    .object({
      maxSecretLifetimeDays: z.number().int().positive().nullable().default(null),
      securityDefaults: z.boolean().default(false),
    })
    .default({ maxSecretLifetimeDays: null, securityDefaults: false }),
  /** Whether the operator app is consented here (default true). */
  operatorConsented: z.boolean().default(true),
});

/** A GDAP relationship of the seed: a partner tenant's delegated admin access to a customer tenant. */
const delegatedAdminSeed = z.object({
  /** The partner and the customer, by domain or id of tenants of this seed. */
  partner: z.string(),
  customer: z.string(),
  displayName: z.string().optional(),
  /** Entra roles granted (display names), e.g. Exchange Administrator, Cloud Application Administrator. */
  roles: z.array(z.string()).min(1),
  status: z
    .enum(['active', 'approvalPending', 'activating', 'terminationRequested', 'terminating', 'terminated', 'expired'])
    .default('active'),
  /** Partner users (mailbox aliases or addresses) the access assignments reach; absent = every partner user. */
  agents: z.array(z.string()).optional(),
  /** Days from now to the relationship's end (negative: ended that long ago). Default 730 (2 years, GDAP's longest). */
  endsInDays: z.number().default(730),
});

export const seedSchema = z.object({
  tenants: z.array(tenantSeed).min(1).optional(),
  /** Generate N extra tenants `tenantK.onmicrosoft.com` with M mailboxes each (for load tests). */
  generate: z.object({ tenants: z.number().int().min(1), mailboxesPerTenant: z.number().int().min(1) }).optional(),
  operator: z
    .object({
      clientId: z.string().uuid().optional(),
      clientSecret: z.string().min(16).optional(),
      /**
       * Workload identity federation: external tokens the operator app accepts (issuer default `emulator`: the
       * emulator's own OIDC issuer at /oidc, whatever host it is reached under).
       */
      federatedIdentityCredentials: z
        .array(
          z.object({
            name: z.string().optional(),
            issuer: z.string().default(EMULATOR_OIDC_ISSUER),
            subject: z.string().min(1),
            audiences: z.array(z.string()).default(['api://AzureADTokenExchange']),
          }),
        )
        .optional(),
    })
    .optional(),
  knobs: z.record(z.string(), z.unknown()).optional(),

  /** Azure Key Vaults (default: `<first tenant>-vault`, where the operator is Secrets Officer, and `<…>-locked`). */
  vaults: z.array(vaultSeedSchema).optional(),

  /** GDAP relationships between tenants of this seed (partner → customer). */
  delegatedAdmin: z.array(delegatedAdminSeed).optional(),
});

export type Seed = z.input<typeof seedSchema>;
type TenantSeed = z.output<typeof tenantSeed>;

export function readSeedFile(file: string): Seed {
  const text = readFileSync(file, 'utf8');
  const data: unknown = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  return seedSchema.parse(data);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function firstPartyPrincipal(
  tenantId: string,
  appId: string,
  displayName: string,
  roles: Array<[string, string, string]>,
): ServicePrincipalRecord {
  return {
    entity: {
      id: stableGuid(`${tenantId}/sp/${appId}`),
      appId,
      displayName,
      appDisplayName: displayName,
      accountEnabled: true,
      appOwnerOrganizationId: MICROSOFT_TENANT_ID,
      servicePrincipalType: 'Application',
      servicePrincipalNames: [appId],
      signInAudience: 'AzureADMultipleOrgs',
      tags: [],
      appRoles: roles.map(([id, value, desc]) => ({
        id,
        value,
        displayName: desc,
        description: desc,
        allowedMemberTypes: ['Application'],
        isEnabled: true,
        origin: 'Application',
      })),
      createdDateTime: null,
    },
    meta: { createdAtMs: 0 },
    directoryRoles: [],
    firstParty: true,
  };
}

function buildTenant(seed: TenantSeed, now: number): TenantRecord {
  const id = seed.id ?? stableGuid(`tenant:${seed.domain.toLowerCase()}`);
  const domain = seed.domain.toLowerCase();
  const label = domain.split('.')[0] ?? domain;
  const users: UserRecord[] = seed.mailboxes.map((m) => {
    const spec: Exclude<(typeof seed.mailboxes)[number], string> = typeof m === 'string' ? { name: m } : m;
    const profile = Object.fromEntries(USER_PROPERTIES.filter((k) => spec[k] !== undefined).map((k) => [k, spec[k]]));
    const alias = spec.name.includes('@') ? spec.name.split('@')[0]! : spec.name;
    const address = `${alias}@${domain}`.toLowerCase();
    const userId = stableGuid(`${id}/user/${alias}`);
    return {
      entity: {
        id: userId,
        displayName: spec.displayName ? spec.displayName : alias,
        userPrincipalName: address,
        mail: address,
        ...profile,
      },
      meta: { createdAtMs: 0 },
      directoryRoles: alias === 'admin' ? ['Global Administrator'] : [],
      mailbox: {
        alias,
        exchangeGuid: stableGuid(`${id}/mailbox/${alias}`),
        recipientTypeDetails: spec.shared ? 'SharedMailbox' : 'UserMailbox',
        smtpClientAuthenticationDisabled:
          spec.smtpClientAuthenticationDisabled !== undefined ? spec.smtpClientAuthenticationDisabled : null,
        ...(spec.customAttributes ? { customAttributes: { ...spec.customAttributes } } : {}),
      },
    };
  });
  if (!users.some((u) => u.directoryRoles.includes('Global Administrator'))) {
    // Every tenant has an administrator for the device-code flow, even without an admin mailbox.
    const address = `admin@${domain}`;
    users.push({
      entity: { id: stableGuid(`${id}/user/admin`), displayName: 'admin', userPrincipalName: address, mail: address },
      meta: { createdAtMs: 0 },
      directoryRoles: ['Global Administrator'],
      mailbox: null,
    });
  }
  const groups: GroupRecord[] = seed.groups.map((g) => {
    const members = g.members.map((name) => {
      const alias = name.split('@')[0]!.toLowerCase();
      const user = users.find((u) => u.mailbox?.alias.toLowerCase() === alias);
      if (!user) throw new Error(`seed: group ${g.name} names ${name}, which is not a mailbox of ${domain}`);
      return user.entity.id;
    });
    return {
      entity: {
        id: stableGuid(`${id}/group/${g.name}`),
        displayName: g.name,
        mail: `${g.name}@${domain}`,
        mailEnabled: true,
        securityEnabled: true,
      },
      meta: { createdAtMs: 0 },
      members,
      alias: g.name,
    };
  });
  return {
    id,
    displayName: seed.displayName ?? label.charAt(0).toUpperCase() + label.slice(1),
    domains: [domain],
    createdDateTime: iso(now),
    policy: { ...seed.policy },
    users,
    groups,
    servicePrincipals: [
      firstPartyPrincipal(id, EXCHANGE_APP_ID, 'Office 365 Exchange Online', EXCHANGE_APP_ROLES),
      firstPartyPrincipal(id, GRAPH_APP_ID, 'Microsoft Graph', GRAPH_APP_ROLES),
      firstPartyPrincipal(id, KEYVAULT_APP_ID, 'Azure Key Vault', []),
    ],
    appRoleAssignments: [],
    exchange: {
      servicePrincipals: [],
      mailboxPermissions: [],
      recipientPermissions: [],
      managementScopes: [],
      managementRoleAssignments: [],
      transportConfig: { SmtpClientAuthenticationDisabled: seed.smtpClientAuthenticationDisabled },
      organizationConfig: { OAuth2ClientProfileEnabled: seed.oauth2ClientProfileEnabled },
    },
    messages: {},
  };
}

const OPERATOR_GRAPH_ROLES = ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All', 'Policy.Read.All'];
const OPERATOR_EXCHANGE_ROLES = ['Exchange.ManageAsApp'];

/** Consents the operator app in a tenant: its service principal, its app roles, and the Exchange administrator role. */
function consentOperator(tenant: TenantRecord, app: ApplicationRecord, now: number): void {
  const sp: ServicePrincipalRecord = {
    entity: {
      id: stableGuid(`${tenant.id}/sp/${app.entity.appId}`),
      appId: app.entity.appId,
      displayName: app.entity.displayName,
      appDisplayName: app.entity.displayName,
      accountEnabled: true,
      appOwnerOrganizationId: app.homeTenantId,
      servicePrincipalType: 'Application',
      servicePrincipalNames: [app.entity.appId],
      signInAudience: app.entity.signInAudience,
      tags: [],
      appRoles: [],
      createdDateTime: iso(now),
    },
    meta: { createdAtMs: 0 },
    directoryRoles: ['Exchange Administrator'],
    firstParty: false,
  };
  tenant.servicePrincipals.push(sp);
  const grant = (resourceAppId: string, value: string): void => {
    const resource = tenant.servicePrincipals.find((s) => s.entity.appId === resourceAppId)!;
    const role = resource.entity.appRoles.find((r) => r.value === value)!;
    const record: AppRoleAssignmentRecord = {
      entity: {
        id: stableGuid(`${tenant.id}/ara/${sp.entity.id}/${role.id}`),
        appRoleId: role.id,
        principalId: sp.entity.id,
        principalType: 'ServicePrincipal',
        principalDisplayName: sp.entity.displayName,
        resourceId: resource.entity.id,
        resourceDisplayName: resource.entity.displayName,
        createdDateTime: iso(now),
        deletedDateTime: null,
      },
      meta: { createdAtMs: 0 },
    };
    tenant.appRoleAssignments.push(record);
  };
  OPERATOR_GRAPH_ROLES.forEach((v) => grant(GRAPH_APP_ID, v));
  OPERATOR_EXCHANGE_ROLES.forEach((v) => grant(EXCHANGE_APP_ID, v));
}

export function defaultTenantSeeds(): Array<z.input<typeof tenantSeed>> {
  return [{ domain: 'contoso.onmicrosoft.com' }, { domain: 'fabrikam.onmicrosoft.com' }];
}

/** Builds the initial world from a seed (or the default world when none is given). */
export function buildWorld(seedInput: Seed | undefined): World {
  const seed = seedSchema.parse(seedInput ?? {});
  const now = Date.now();
  const tenantSeeds: Array<z.input<typeof tenantSeed>> = [
    ...(seed.tenants ?? (seed.generate ? [] : defaultTenantSeeds())),
  ];
  if (seed.generate) {
    for (let i = 1; i <= seed.generate.tenants; i++) {
      tenantSeeds.push({
        domain: `tenant${i}.onmicrosoft.com`,
        mailboxes: ['admin', ...Array.from({ length: seed.generate.mailboxesPerTenant - 1 }, (_, k) => `user${k + 1}`)],
        groups: [],
      });
    }
  }
  const tenants = tenantSeeds.map((t) => buildTenant(tenantSeed.parse(t), now));
  const home = tenants[0]!;
  const clientId = seed.operator?.clientId?.toLowerCase() ?? stableGuid('operator-app');
  const clientSecret = seed.operator?.clientSecret ?? randomBytes(30).toString('base64url');
  const keyId = stableGuid('operator-secret');
  const operatorApp: ApplicationRecord = {
    entity: {
      id: stableGuid(`${home.id}/app/operator`),
      appId: clientId,
      displayName: 'sendasapp operator (emulator)',
      uniqueName: 'sendasapp-operator',
      signInAudience: 'AzureADMultipleOrgs',
      requiredResourceAccess: [],
      passwordCredentials: [
        {
          customKeyIdentifier: null,
          displayName: 'emulator operator secret',
          endDateTime: iso(now + 2 * 365 * 86_400_000),
          hint: clientSecret.slice(0, 3),
          keyId,
          secretText: null,
          startDateTime: iso(now),
        },
      ],
      keyCredentials: [],
      createdDateTime: iso(now),
      publisherDomain: home.domains[0],
      identifierUris: [],
      tags: [],
      appRoles: [],
      web: { redirectUris: [], homePageUrl: null, logoutUrl: null },
    },
    meta: { createdAtMs: 0 },
    homeTenantId: home.id,
    // Seeded: replicated long ago, like the rest of the default world.
    secrets: [{ keyId, hash: sha256Hex(clientSecret), createdAtMs: 0 }],
    ...(seed.operator?.federatedIdentityCredentials
      ? {
          federatedIdentityCredentials: seed.operator.federatedIdentityCredentials.map((f, i) => ({
            id: stableGuid(`operator-fic/${i}`),
            name: f.name ?? `federated-${i + 1}`,
            issuer: f.issuer,
            subject: f.subject,
            audiences: f.audiences,
          })),
        }
      : {}),
  };
  const knobs = mergeKnobs(defaultKnobs(), seed.knobs);
  if (typeof knobs === 'string') throw new Error(`seed: knobs.${knobs}`);
  const seedsParsed = tenantSeeds.map((t) => tenantSeed.parse(t));
  tenants.forEach((t, i) => {
    if (seedsParsed[i]!.operatorConsented) consentOperator(t, operatorApp, now);
  });
  const delegatedAdminRelationships = (seed.delegatedAdmin ?? []).map((r, i) => buildRelationship(tenants, r, i, now));
  return {
    version: 1,
    tenants,
    ...(delegatedAdminRelationships.length > 0 ? { delegatedAdminRelationships } : {}),
    applications: [operatorApp],
    knobs,
    operator: { tenantId: home.id, clientId, clientSecret },
    deviceCodes: [],
    vaults: buildVaults(seed.vaults, tenants, clientId),
  };
}

/** Builds a GDAP relationship of the seed; its tenants and agents must be in the seed. */
export function buildRelationship(
  tenants: TenantRecord[],
  r: z.input<typeof delegatedAdminSeed>,
  index: number,
  now: number,
): DelegatedAdminRelationshipRecord {
  const spec = delegatedAdminSeed.parse(r);
  const find = (key: string, what: string): TenantRecord => {
    const k = key.toLowerCase();
    const t = tenants.find((x) => x.id === k || x.domains.includes(k));
    if (!t) throw new Error(`seed: delegatedAdmin ${what} ${key} is not a tenant of the seed`);
    return t;
  };
  const partner = find(spec.partner, 'partner');
  const customer = find(spec.customer, 'customer');
  const agentUserIds =
    spec.agents?.map((a) => {
      const alias = a.split('@')[0]!.toLowerCase();
      const user = partner.users.find((u) => u.entity.userPrincipalName.split('@')[0] === alias);
      if (!user) throw new Error(`seed: delegatedAdmin agent ${a} is not a user of ${partner.domains[0]}`);
      return user.entity.id;
    }) ?? null;
  const days = 730;
  const end = now + spec.endsInDays * 86_400_000;
  const created = Math.min(now, end) - days * 86_400_000 + 86_400_000;
  return {
    id: `${stableGuid(`gdap/${partner.id}/${customer.id}/${index}`)}-${stableGuid(`gdap-suffix/${index}`)}`,
    displayName: spec.displayName ?? `${partner.displayName} GDAP ${customer.displayName}`.slice(0, 50),
    partnerTenantId: partner.id,
    customerTenantId: customer.id,
    status: spec.endsInDays <= 0 && spec.status === 'active' ? 'expired' : spec.status,
    roles: spec.roles,
    agentUserIds,
    createdDateTime: iso(created),
    activatedDateTime: spec.status === 'approvalPending' ? null : iso(created + 3_600_000),
    endDateTime: iso(end),
    duration: `P${days}D`,
  };
}
