/**
 * A Microsoft 365 tenant emulator on loopback: token service, Microsoft Graph, Exchange Online admin API and SMTP
 * submission. `startEmulator` is what tests, `sendasapp emulator start` and `sendasapp demo` use.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadOrCreatePki, pregenerateKeys } from './pki.js';
import { EmulatorStore } from './store.js';
import { buildWorld, EXCHANGE_APP_ID, GRAPH_APP_ID, readSeedFile, type Seed } from './seed.js';
import { defaultKnobs } from './state.js';
import { mergeKnobs, type KnobsPatch } from './knobs.js';
import { RESOURCES, TokenIssuer } from './tokens.js';
import { appTokenClaims } from './claims.js';
import { createHttpListener } from './http.js';
import type { EmulatorContext } from './context.js';
import { createTokenService } from './token/index.js';
import { createGraphService } from './graph/index.js';
import { createExchangeService } from './exchange/index.js';
import { startSmtpService } from './smtp/index.js';
import { createControlService } from './control.js';
import { createKeyVaultService, VAULT_DNS_SUFFIX, vaultHostNames } from './keyvault/index.js';

export { EmulatorStore, type RequestLogEntry } from './store.js';
export type * from './state.js';
export type { KnobsPatch } from './knobs.js';
export { EXCHANGE_APP_ID, GRAPH_APP_ID, seedSchema, type Seed } from './seed.js';
export { EmulatorControlClient } from './control-client.js';

export interface EmulatorOptions {
  /** HTTPS port; 0 = any free port. Default 8443. */
  port?: number;
  host?: string;
  /** Holds the CA, the keys and the persisted state. Default: a new temp dir. */
  stateDir?: string;
  /** A seed object, or the path of a JSON/YAML seed file. */
  seed?: Seed | string;
  certHostnames?: string[];
  /** SMTP port; default port+1, or any free port when port is 0. */
  smtpPort?: number;
  knobs?: KnobsPatch;
}

export interface EmulatorEndpoints {
  cloud: 'emulator';
  authorityHost: string;
  graphBaseUrl: string;
  exchangeAdminUrl: string;
  smtp: { host: string; port: number };
  caFile: string;
  controlUrl: string;
  operator: { tenantId: string; clientId: string; clientSecret: string };
  tenants: Array<{ id: string; domain: string; mailboxes: string[] }>;
  /**
   * How fast a client may poll this deployment: the emulator's propagation takes seconds, not Exchange's 30 min
   * to 2 h, so the proof, New-ServicePrincipal and the consent wait start their retries sooner.
   */
  pacing: { proofRetryBaseMs: number; exchangeReplicationWaitMs: number; consentPollBaseMs: number };
  /**
   * Azure Key Vault: vault URLs are `https://<vault>.<dnsSuffix>:<port>`; `hosts` is the DNS of this deployment (each
   * vault's host name → the emulator's address; a name under the suffix that is not listed does not resolve).
   */
  keyVault: { dnsSuffix: string; port: number; hosts: Record<string, string> };
}

export interface RunningEmulator {
  endpoints: EmulatorEndpoints;
  /** Path of the written endpoints.json (the cloud profile for `--endpoints`). */
  endpointsFile: string;
  stateDir: string;
  store: EmulatorStore;
  /**
   * Mints an app-only access token as the token service would (for tests of one service without the other).
   * `resource` is 'graph' or 'exchange'. The app must have a service principal in the tenant.
   */
  mintAppToken(tenant: string, clientAppId: string, resource: 'graph' | 'exchange'): string;
  stop(): Promise<void>;
}

function listen(
  server: {
    listen: (port: number, host: string) => void;
    once: (e: string, cb: (err?: Error) => void) => void;
    address: () => unknown;
  },
  port: number,
  host: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve((server.address() as AddressInfo).port));
    server.listen(port, host);
  });
}

/** The address SMTP clients should dial: the loopback IP for a loopback or wildcard bind, else the host as given. */
function smtpHostFor(host: string): string {
  if (host === '127.0.0.1' || host === '0.0.0.0' || host === 'localhost') return '127.0.0.1';
  if (host === '::' || host === '::1') return '::1';
  return host;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const stateDir = options.stateDir ?? mkdtempSync(path.join(tmpdir(), 'sendasapp-emulator-'));
  mkdirSync(stateDir, { recursive: true });
  const certNames = [...(options.certHostnames ?? []), `*.${VAULT_DNS_SUFFIX}`];
  const pki = loadOrCreatePki(stateDir, certNames, await pregenerateKeys(stateDir));

  const persisted = EmulatorStore.load(stateDir);
  const seed = typeof options.seed === 'string' ? readSeedFile(options.seed) : options.seed;
  const world = persisted ?? buildWorld(seed);
  const knobs = mergeKnobs({ ...defaultKnobs(), ...world.knobs }, options.knobs);
  if (typeof knobs === 'string') throw new Error(`emulator knobs: ${knobs}`);
  world.knobs = knobs;
  const store = new EmulatorStore(world, stateDir);
  store.flush();

  const ctx: EmulatorContext = { store, issuer: new TokenIssuer(pki), pki };
  const control = createControlService(ctx, {
    rebuild: () => buildWorld({ ...(seed ?? {}), operator: { ...world.operator } }),
  });
  const http = createHttpListener(
    store,
    [
      control,
      createTokenService(ctx),
      createGraphService(ctx),
      createExchangeService(ctx),
      createKeyVaultService(ctx, () => vaultAuthority),
    ],
    { key: pki.tlsKeyPem, cert: pki.tlsCertPem },
  );
  let vaultAuthority = '';
  const requestedPort = options.port ?? 8443;
  const port = await listen(http.server, requestedPort, host);
  const smtpPort = options.smtpPort ?? (requestedPort === 0 ? 0 : port + 1);
  let smtp;
  try {
    smtp = await startSmtpService(ctx, { host, port: smtpPort, key: pki.tlsKeyPem, cert: pki.tlsCertPem });
  } catch (err) {
    await http.stop();
    throw err;
  }

  const publicHost = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' || host === '::1' ? 'localhost' : host;
  const base = `https://${publicHost}:${port}`;
  vaultAuthority = base;
  const endpoints: EmulatorEndpoints = {
    cloud: 'emulator',
    authorityHost: base,
    graphBaseUrl: `${base}/v1.0`,
    exchangeAdminUrl: `${base}/adminapi/beta`,
    // An IP, not `localhost`: SMTP clients such as nodemailer resolve names through DNS servers, not the OS resolver.
    smtp: { host: smtpHostFor(host), port: smtp.port },
    // Absolute, so that the file works from any working directory.
    caFile: path.resolve(pki.caFile),
    controlUrl: `${base}/_emulator`,
    operator: { ...world.operator },
    tenants: world.tenants.map((t) => ({
      id: t.id,
      domain: t.domains[0]!,
      mailboxes: t.users.filter((u) => u.mailbox).map((u) => u.entity.mail),
    })),
    pacing: { proofRetryBaseMs: 1000, exchangeReplicationWaitMs: 1000, consentPollBaseMs: 500 },
    keyVault: {
      dnsSuffix: VAULT_DNS_SUFFIX,
      port,
      hosts: Object.fromEntries(vaultHostNames(world.vaults).map((h) => [h, smtpHostFor(host)])),
    },
  };
  const endpointsFile = path.join(stateDir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(endpoints, null, 2) + '\n', { mode: 0o600 });

  let stopped = false;
  return {
    endpoints,
    endpointsFile,
    stateDir,
    store,
    mintAppToken(tenant, clientAppId, resource) {
      const t = store.findTenant(tenant);
      if (!t) throw new Error(`no tenant ${tenant}`);
      const info = RESOURCES.find((r) => r.appId === (resource === 'graph' ? GRAPH_APP_ID : EXCHANGE_APP_ID))!;
      return ctx.issuer.sign(appTokenClaims(store, t, clientAppId, info));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([http.stop(), smtp.stop()]);
      store.flush();
    },
  };
}
