/**
 * The graph of one tenant run, from its options: which data, check and managed nodes it has and how their
 * inputs connect. The per-mailbox nodes need the mailboxes: with --group, the group is expanded first (a read).
 */
import type { ExchangeOnlinePrincipal } from '../../entra/index.js';
import type { ExchangeServicePrincipal, SmtpAuthState } from '../../exchange/index.js';
import type { SinkInspection } from '../../handoff/index.js';
import type { TenantContext } from '../context.js';
import { ResourceGraph } from '../engine.js';
import type { ManagedRef, Ref } from '../model.js';
import { addMailboxAuthority } from './access.js';
import { delegatedAccess, graphScopesNode } from './delegated.js';
import {
  applicationNode,
  consentNode,
  credentialNode,
  redirectUrisNode,
  servicePrincipalNode,
  smtpSendAsAppAccess,
  wantedRedirectUris,
  type AppState,
  type CredentialState,
  type ServicePrincipalState,
} from './entra.js';
import {
  exchangeAuthorizationCheck,
  exchangeServicePrincipalNode,
  mailboxAccessNode,
  managementScopeNode,
  roleAssignmentNode,
  smtpAuthNode,
} from './exchange.js';
import {
  certificateFileCheck,
  exchangeBackendCheck,
  exchangeOnlineNode,
  lifetimeCheck,
  mailboxesNode,
  operatorCheck,
  sinkCheck,
  type CertificateMaterial,
  type MailboxFacts,
} from './facts.js';
import { sinkModeNode } from './sink.js';
import { partnerAccessCheck } from './partner.js';

import { managesSendAs } from '../../config/index.js';
import { sendAsGrantsNode, sendAsUsersNode, type SendAsFacts, type SendAsState } from './send-as-users.js';
import { provenanceNode, type ProvenanceState } from './provenance.js';
export * from './access.js';
export * from './delegated.js';
export * from './entra.js';
export * from './exchange.js';
export * from './facts.js';
export * from './sink.js';
export * from './partner.js';

export * from './send-as-users.js';

export * from './provenance.js';

/** The handles a run keeps to read its results. */
export interface RunRefs {
  mailboxes: Ref<MailboxFacts>;
  exchangeOnline?: Ref<ExchangeOnlinePrincipal>;
  exchangeBackend: Ref<{ backend: 'rest' | 'pwsh'; reason: string }>;
  sink: Ref<SinkInspection | undefined>;
  certificate: Ref<CertificateMaterial | undefined>;
  application: ManagedRef<AppState>;
  credential: ManagedRef<CredentialState>;
  servicePrincipal: ManagedRef<ServicePrincipalState>;
  consent?: ManagedRef<{ granted: true }>;
  exchangeServicePrincipal?: ManagedRef<ExchangeServicePrincipal>;
  roleAssignment?: ManagedRef<{ name: string }>;
  smtpAuth: ManagedRef<SmtpAuthState>;

  /** With --send-as-users / --send-as-group: the people and their SendAs grants to the shared account. */
  sendAsUsers?: Ref<SendAsFacts>;
  sendAsGrants?: ManagedRef<SendAsState>;

  /** What sendasapp made and changed, recorded in the app's notes (for list and destroy). */
  provenance?: ManagedRef<ProvenanceState>;
}

/** The mailboxes node alone: with --group, its members decide which per-mailbox nodes the run has. */
export function mailboxFactsGraph(): { graph: ResourceGraph; mailboxes: Ref<MailboxFacts> } {
  const graph = new ResourceGraph();
  return { graph, mailboxes: graph.add(mailboxesNode()) };
}

/**
 * The whole graph. `known` is the mailbox facts already read (with --group); without it, the mailboxes node is
 * part of this graph and the listed mailboxes make the per-mailbox nodes.
 */
export function buildGraph(ctx: TenantContext, known?: MailboxFacts): { graph: ResourceGraph; refs: RunRefs } {
  const o = ctx.options;
  const g = new ResourceGraph();
  // GDAP: the relationship first, so that its sentence is the run's when the customer's tokens are refused too.
  if (ctx.partner) g.add(partnerAccessCheck(ctx));
  const mailboxes: Ref<MailboxFacts> = known
    ? g.add({ ...mailboxesNode(), read: async () => known })
    : g.add(mailboxesNode());
  const mailboxList = known?.mailboxes ?? [...o.mailboxes];
  const delegated = o.flow === 'delegated';
  const rbac = o.mailboxAccess === 'rbac' && !delegated;
  const sink = g.add(sinkCheck());
  // A file's permissions; a Key Vault secret has none (the vault's access control decides).
  if (o.secretOut && ctx.sink?.kind !== 'keyvault') g.add(sinkModeNode(ctx, { sink }));
  const certificate = g.add(certificateFileCheck());
  const lifetime = g.add(lifetimeCheck(sink));
  g.add(operatorCheck());
  const exchangeBackend = g.add(exchangeBackendCheck());
  const exchangeOnline = !delegated && !rbac ? g.add(exchangeOnlineNode()) : undefined;

  let application: ManagedRef<AppState>;
  if (delegated) {
    const scopes = g.add(graphScopesNode());
    application = g.add(
      applicationNode(ctx, {
        inputs: { scopes },
        title: `Application "${ctx.names.displayName}" (${ctx.names.uniqueName}), delegated SMTP.Send`,
        wants: ({ scopes: s }) => delegatedAccess(s),
      }),
    );
  } else {
    application = g.add(
      applicationNode(ctx, {
        inputs: { exo: exchangeOnline },
        title: o.appId ? `Application ${o.appId}` : `Application "${ctx.names.displayName}" (${ctx.names.uniqueName})`,
        wants: ({ exo }) => smtpSendAsAppAccess(exo),
      }),
    );
  }
  const credential = g.add(credentialNode(ctx, { app: application, sink, certificate, lifetime }));
  if (wantedRedirectUris(ctx).length > 0) g.add(redirectUrisNode(ctx, { app: application }));
  const servicePrincipal = g.add(servicePrincipalNode(ctx, { app: application }));
  const smtpAuth = g.add(smtpAuthNode(ctx, { mailboxes }));
  const refs: RunRefs = {
    mailboxes,
    exchangeOnline,
    exchangeBackend,
    sink,
    certificate,
    application,
    credential,
    servicePrincipal,
    smtpAuth,
  };

  if (managesSendAs(o)) {
    refs.sendAsUsers = g.add(sendAsUsersNode({ mailboxes }));
    refs.sendAsGrants = g.add(sendAsGrantsNode(ctx, { users: refs.sendAsUsers, app: application }));
  }

  refs.provenance = g.add(
    provenanceNode(ctx, { app: application, mailboxes, ...(o.appId ? { sp: servicePrincipal } : {}) }),
  );
  if (delegated) return { graph: g, refs };

  const exchangeSp = g.add(exchangeServicePrincipalNode(ctx, { app: application, sp: servicePrincipal }));
  refs.exchangeServicePrincipal = exchangeSp;
  if (rbac) {
    const scope = g.add(managementScopeNode(ctx, known ?? { mailboxes: mailboxList }, { app: application }));
    const role = g.add(roleAssignmentNode(ctx, { app: application, scope, exchangeSp }));
    refs.roleAssignment = role;
    // After the writes whenever the scope or the assignment changes (a mailbox added to the scope).
    g.add(exchangeAuthorizationCheck(ctx, mailboxList, { app: application, role, scope }));
  } else {
    refs.consent = g.add(consentNode(ctx, { sp: servicePrincipal, exo: exchangeOnline! }));
    for (const m of mailboxList) g.add(mailboxAccessNode(ctx, m, { exchangeSp }));
  }
  // Authoritative mailbox access: the app's grants outside the configuration, and the previous way's (after a proof).
  addMailboxAuthority(g, ctx, mailboxList, { ...refs, exchangeServicePrincipal: exchangeSp });
  return { graph: g, refs };
}
