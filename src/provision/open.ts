/**
 * Opens a tenant run: cloud profile, operator sign-in, tenant ids, Graph and Exchange clients, the credential sink
 * and the names of what we create — the read-only TenantContext. Nothing here reads the tenant's objects: that is
 * the preflight's job.
 */
import {
  CachedCredential,
  createDispatcher,
  fetchRetrying,
  resolveCloud,
  signInOperator,
  type CloudProfile,
  type NetworkBounds,
  type OperatorSignIn,
  type RequestObserver,
} from '../auth/index.js';
import { GraphApi, legacyUniqueNameFor, uniqueNameFor } from '../entra/index.js';
import {
  ChosenExchangeBackend,
  chooseExchangeBackend,
  coalesceReads,
  createPwshExchangeFactory,
  pwshMightRun,
  rbacNames,
  RestExchangeBackend,
  type ExchangeBackend,
  type ExchangeBackendChoice,
  type PwshProbe,
} from '../exchange/index.js';
import { openSink } from '../handoff/index.js';
import type { Agent } from 'undici';
import type { RunHooks, RunNames, RunOptions, TenantContext } from './context.js';
import { OperatorError } from './errors.js';
import { formatDuration } from '../poll/index.js';

export interface OpenOptions {
  isTty: boolean;
  progress: (line: string) => void;
  signal: AbortSignal;
  hooks?: RunHooks;
  /** Every request of the run, for --verbose and --log-file. */
  onRequest?: RequestObserver;
  /** Replace the Exchange backend (tests). */
  exchangeFactory?: () => ExchangeBackend;
  /** An operator sign-in made once for many runs (a fleet): its credential and token cache are shared. */
  operator?: OperatorSignIn;
}

/** Resolves a tenant id or domain to its id through the authority's OpenID metadata (no token needed). */
export async function resolveTenantId(
  profile: CloudProfile,
  dispatcher: Agent,
  tenant: string,
  signal: AbortSignal,
  bounds: NetworkBounds = {},
): Promise<string> {
  const url = `${profile.authorityHost}/${encodeURIComponent(tenant)}/v2.0/.well-known/openid-configuration`;
  let reply: { status: number; text: string };
  try {
    reply = await fetchRetrying(
      url,
      {},
      { service: 'token', where: profile.authorityHost, dispatcher, ...bounds, signal },
    );
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw new OperatorError(
      `cannot reach the sign-in service ${profile.authorityHost} (${(err as Error).message})`,
      'check the network, the proxy, or --cloud / --endpoints',
    );
  }
  let body: { token_endpoint?: string; error_description?: string } | undefined;
  try {
    body = JSON.parse(reply.text) as typeof body;
  } catch {
    body = undefined;
  }
  if (reply.status >= 400 || !body?.token_endpoint) {
    throw new OperatorError(
      `tenant ${tenant} was not found in the ${profile.name} cloud${body?.error_description ? ` (${body.error_description.split(/\r?\n/)[0]})` : ''}`,
      'check --tenant / --home-tenant (a tenant id or a verified domain) and --cloud',
    );
  }
  const m = /\/([0-9a-f-]{36})\/oauth2\//i.exec(body.token_endpoint);
  if (!m) return tenant;
  return m[1]!.toLowerCase();
}

/** The names of what a run makes for this display name (stable keys; Exchange names fit in 64 characters). */
export function runNames(displayName: string): RunNames {
  const uniqueName = uniqueNameFor(displayName);
  return { uniqueName, legacyUniqueName: legacyUniqueNameFor(displayName), displayName, ...rbacNames(uniqueName) };
}

/**
 * The Exchange backend of a run: REST; pwsh (ExchangeOnlineManagement in one PowerShell session, started at once so
 * that it is ready when the Graph half is); or `auto`, pwsh where this machine has PowerShell 7.4+ and the module,
 * else REST (decided by the bridge's first line, or at once when neither can be there). A caller's factory
 * (tests) is used as it is.
 */
function exchangeBackendFor(
  options: RunOptions,
  p: OpenOptions,
  pwsh: () => ExchangeBackend & { probe(): Promise<PwshProbe> },
  rest: () => ExchangeBackend,
): { exchange: ExchangeBackend; exchangeChoice: Promise<ExchangeBackendChoice> } {
  const given = (backend: ExchangeBackend, reason: string) => ({
    exchange: backend,
    exchangeChoice: Promise.resolve<ExchangeBackendChoice>({
      ok: true,
      backend: backend.name,
      requested: options.exchange,
      reason,
    }),
  });
  if (p.exchangeFactory) return given(p.exchangeFactory(), 'given by the caller');
  if (options.exchange === 'rest') return given(rest(), '--exchange rest');
  const quick = options.exchange === 'auto' ? pwshMightRun() : { possible: true };
  if (!quick.possible)
    return given(rest(), `auto: REST, because ${quick.reason} (\`sendasapp doctor\` says how to install it)`);
  const bridge = pwsh();
  const exchangeChoice = bridge.probe().then((probe) => chooseExchangeBackend(options.exchange, probe));
  return { exchange: new ChosenExchangeBackend(exchangeChoice, bridge, rest), exchangeChoice };
}

/** The bounds of every request of a run: --timeout, the run's cancellation, the request log, retry progress. */
export function runBounds(
  options: RunOptions,
  p: Pick<OpenOptions, 'signal' | 'onRequest' | 'progress'>,
): NetworkBounds {
  return {
    timeoutMs: options.timeout.ms,
    signal: p.signal,
    onRequest: p.onRequest,
    onRetry: (what, ms) => p.progress(`  retrying in ${formatDuration(ms)}: ${what}`),
  };
}

export async function openContext(options: RunOptions, p: OpenOptions): Promise<TenantContext> {
  const profile = resolveCloud(options);
  const bounds = runBounds(options, p);
  const dispatcher = createDispatcher(profile, { timeoutMs: bounds.timeoutMs });
  const signIn =
    p.operator ??
    signInOperator({
      auth: options.auth,
      profile,
      tenant: options.homeTenant ?? options.tenant,
      isTty: p.isTty,
      prompt: p.progress,
      bounds,
      partnerTenant: options.partnerTenant,
      tokenCache: options.tokenCache,
    });
  const credential = new CachedCredential(signIn.credential);
  // The tenant ids are resolved while the operator's first tokens are fetched (both need the sign-in service).
  // A person signs in once (Graph first); the Exchange token then comes silently from the same sign-in.
  const interactive = signIn.principal === 'user';
  const warmUp = async (tenant: string): Promise<void> => {
    const get = (scope: string) => credential.getToken(scope, { tenantId: tenant, abortSignal: p.signal });
    if (interactive) {
      await get(profile.graphScope);
      await get(profile.exchangeScope);
    } else await Promise.all([get(profile.graphScope), get(profile.exchangeScope)]);
  };
  try {
    // GDAP: the partner user signs in at the partner tenant; the customer's tokens come in the preflight, after the
    // delegated-admin relationship has been read (an expired one is explained there, before anything is written).
    const partnerTenant = options.partnerTenant;
    const [mailboxTenantId, homeTenantId, partnerTenantId] = await Promise.all([
      resolveTenantId(profile, dispatcher, options.tenant, p.signal, bounds),
      options.homeTenant && options.homeTenant !== options.tenant
        ? resolveTenantId(profile, dispatcher, options.homeTenant, p.signal, bounds)
        : Promise.resolve(undefined),
      partnerTenant
        ? resolveTenantId(profile, dispatcher, partnerTenant, p.signal, bounds)
        : Promise.resolve(undefined),
      partnerTenant
        ? credential.getToken(profile.graphScope, { tenantId: partnerTenant, abortSignal: p.signal })
        : warmUp(options.tenant),
    ]);
    if (partnerTenant && partnerTenantId) credential.alias(partnerTenant, partnerTenantId);
    credential.alias(options.tenant, mailboxTenantId);
    if (options.homeTenant && homeTenantId) credential.alias(options.homeTenant, homeTenantId);
    const home = homeTenantId ?? mailboxTenantId;
    const graphFor = (tenantId: string): GraphApi =>
      new GraphApi({ credential, profile, tenant: tenantId, dispatcher, ...bounds });
    const mailboxGraph = graphFor(mailboxTenantId);
    const homeGraph = home === mailboxTenantId ? mailboxGraph : graphFor(home);
    const base: Omit<TenantContext, 'exchange' | 'exchangeChoice'> = {
      options,
      profile,
      credential,
      dispatcher,
      homeTenantId: home,
      mailboxTenantId,
      homeGraph,
      mailboxGraph,
      sink: options.secretOut ? openSink(options.secretOut, { profile, credential, bounds }) : undefined,
      names: runNames(options.appName),
      operator: { kind: interactive ? 'user' : 'app', principal: signIn.principal },
      ...(partnerTenantId ? { partner: { tenantId: partnerTenantId, graph: graphFor(partnerTenantId) } } : {}),
      progress: p.progress,
      signal: p.signal,
      // A deployment's pacing (the emulator's endpoints file) unless a test sets its own.
      hooks: { ...profile.pacing, ...p.hooks },
      bounds,
    };
    const rest = (): ExchangeBackend =>
      new RestExchangeBackend({
        credential,
        adminUrl: profile.exchangeAdminUrl,
        scope: profile.exchangeScope,
        tenantId: mailboxTenantId,
        dispatcher,
        ...bounds,
      });
    const { exchange, exchangeChoice } = exchangeBackendFor(
      options,
      p,
      () =>
        createPwshExchangeFactory()({
          profile,
          tenantId: mailboxTenantId,
          ctx: base,
          // GDAP: Connect-ExchangeOnline -DelegatedOrganization <customer> with the partner user's customer token.
          ...(partnerTenantId ? { delegatedOrganization: mailboxTenantId } : {}),
        }),
      rest,
    );
    // Reads the nodes issue together share requests ($batch, or one bridge message) where the backend can.
    return { ...base, exchange: coalesceReads(exchange), exchangeChoice };
  } catch (err) {
    await dispatcher.close().catch(() => undefined);
    throw err;
  }
}
