/**
 * Everything one tenant run needs, in one read-only object (no module state: many tenants can run side by side).
 * Results never flow back through it: nodes return their outputs.
 */
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import type { CloudProfile, NetworkBounds } from '../auth/index.js';
import type { ProvisionOptions } from '../config/index.js';
import type { GraphApi } from '../entra/index.js';
import type { ExchangeBackend, ExchangeBackendChoice } from '../exchange/index.js';
import type { Sink } from '../handoff/index.js';

export interface RunNames {
  /** The app's stable key (Graph uniqueName). */
  uniqueName: string;
  /** The key an earlier version of sendasapp used for the same display name (adopted, never renamed). */
  legacyUniqueName: string;
  displayName: string;
  /** Exchange management scope and role assignment names (rbac mode), at most 64 characters. */
  scopeName: string;
  roleAssignmentName: string;
}

export type RunOptions = Readonly<
  ProvisionOptions & {
    tenant: string;
    /** `sendasapp rotate`: replace the credential the sink holds now, by the rotation flow (no flag). */
    rotate?: boolean;
  }
>;

/** Seams of a run for tests and rehearsals (never set by the CLI). */
export interface RunHooks {
  /** Called right after a write step (e.g. 'addPassword'), before its result is recorded anywhere. */
  afterWrite?: (step: string) => Promise<void> | void;
  /** First retry delay of the proof (default 5 s). */
  proofRetryBaseMs?: number;
  /** Pause between New-ServicePrincipal tries while Exchange has not seen a new service principal (default 15 s). */
  exchangeReplicationWaitMs?: number;
  /** First pause of the admin-consent wait (default 2 s). */
  consentPollBaseMs?: number;
}

export interface OperatorInfo {
  /** 'app' (client credentials, managed or workload identity) or 'user' (a person signed in). */
  kind: 'app' | 'user';
  /** App id or 'user'. */
  principal: string;
}

export interface TenantContext {
  readonly options: RunOptions;
  readonly profile: CloudProfile;
  readonly credential: TokenCredential;
  readonly dispatcher: Agent;
  readonly homeTenantId: string;
  readonly mailboxTenantId: string;
  /** Graph for the app's home tenant and for the mailbox tenant (the same object when they are one tenant). */
  readonly homeGraph: GraphApi;
  readonly mailboxGraph: GraphApi;
  readonly exchange: ExchangeBackend;
  /** Which Exchange backend the run uses and why (`auto` decides while the run starts). */
  readonly exchangeChoice: Promise<ExchangeBackendChoice>;
  /** The --secret-out sink: a file, or a secret in Azure Key Vault. */
  readonly sink?: Sink;
  readonly names: RunNames;
  readonly operator: OperatorInfo;
  /** Progress lines for people (stderr). */
  readonly progress: (line: string) => void;
  readonly signal: AbortSignal;
  readonly hooks: Readonly<RunHooks>;
  /** --timeout, cancellation and the request log, for every request of the run (the proof's too). */
  readonly bounds: Readonly<NetworkBounds>;
  /** GDAP (`--partner-tenant`): the partner tenant the operator signed in at, and Graph there. */
  readonly partner?: { readonly tenantId: string; readonly graph: GraphApi };
}

/** Ends a run's connections: the Exchange session (a pwsh process) and the HTTP pools. Never throws. */
export async function closeContext(ctx: TenantContext): Promise<void> {
  await ctx.exchange.close().catch(() => undefined);
  await ctx.dispatcher.close().catch(() => undefined);
}
