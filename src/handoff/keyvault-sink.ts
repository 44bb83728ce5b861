/**
 * The credential sink in Azure Key Vault (`--secret-out keyvault://<vault>/<secret>` or the secret's https URL),
 * through @azure/keyvault-secrets with the operator's credential. The secret's value is the record the file sink
 * writes (the same JSON, so whatever reads a sink reads this one alike); each write is a new version, with
 * `expiresOn` = the credential's end, the tags tenant, appId and keyId, and content type application/json. Older
 * versions stay readable, so a replaced credential is still there beside the new one.
 *
 * `inspect` is the preflight: it reads the secret (and, when there is none, the deleted secret of that name) and
 * nothing else, so a vault that does not exist, refuses the operator (403: which role to grant), or holds another
 * app's or tenant's credential under that name stops the run before anything is written anywhere.
 */
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import {
  DEFAULT_TIMEOUT_MS,
  logTarget,
  networkCode,
  serviceLabel,
  type CloudProfile,
  type NetworkBounds,
} from '../auth/index.js';
import { ConfigError, parseVaultUri, type VaultSecretAddress } from '../config/index.js';
import {
  CredentialSink,
  sinkFileSchema,
  withPending,
  withReinstated,
  withRetirement,
  withoutPrevious,
  withStored,
  type Sink,
  type SinkFile,
  type SinkInspection,
  type SinkProblem,
  type StoredCredential,
} from './sink.js';

type Base = { tenantId?: string; clientId?: string };
type Policy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];

/** What a failed vault call says: HTTP status, Key Vault's error code, its message, or the network's code. */
interface VaultCallError {
  status?: number;
  code?: string;
  /** The first line of the message (the whole one is `detail`: a 403 names the caller and the vault there). */
  message: string;
  detail: string;
}

function callError(err: unknown): VaultCallError {
  const e = err as { statusCode?: number; code?: string; message?: string };
  return {
    status: typeof e?.statusCode === 'number' ? e.statusCode : undefined,
    code:
      err instanceof VaultHostNotFound
        ? err.dnsCode
        : (networkCode(err) ?? (typeof e?.code === 'string' ? e.code : undefined)),
    message: String(e?.message ?? err).split(/\r?\n/)[0]!,
    detail: String(e?.message ?? err),
  };
}

/** A vault host with no DNS name (its `dnsCode` is not an SDK retry code). */
class VaultHostNotFound extends Error {
  readonly dnsCode = 'ENOTFOUND';
  constructor(readonly hostname: string) {
    super(`getaddrinfo ENOTFOUND ${hostname}`);
  }
}

/** The vault's https URL in the run's cloud; an https --secret-out in another cloud is refused. */
export function vaultUrlFor(address: VaultSecretAddress, profile: CloudProfile): string {
  const kv = profile.keyVault;
  if (!kv)
    throw new ConfigError(
      '--secret-out',
      `the ${profile.name} cloud profile names no Key Vault DNS suffix (an endpoints file without keyVault): give a file`,
    );
  if (address.dnsSuffix && address.dnsSuffix !== kv.dnsSuffix.toLowerCase())
    throw new ConfigError(
      '--secret-out',
      `names a vault under ${address.dnsSuffix}, but the vaults of the ${profile.name} cloud are under ${kv.dnsSuffix}: use keyvault://${address.vault}/${address.secret} or choose --cloud`,
    );
  const port = kv.port && kv.port !== 443 ? `:${kv.port}` : '';
  return `https://${address.vault}.${kv.dnsSuffix}${port}`;
}

/**
 * Name resolution of a deployment whose endpoints file has its own DNS (the emulator): a listed vault host resolves
 * to its address, any other name under the vault suffix does not resolve (ENOTFOUND, as a vault that does not exist),
 * every other name goes to the system resolver.
 */
export function hostsLookup(hosts: Record<string, string>, suffix: string): LookupFunction {
  const table = new Map(Object.entries(hosts).map(([h, a]) => [h.toLowerCase(), a]));
  return (hostname, options, callback) => {
    const name = hostname.toLowerCase();
    const address = table.get(name);
    if (address !== undefined) {
      const family = isIP(address) || 4;
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
      return;
    }
    if (name.endsWith(`.${suffix.toLowerCase()}`)) {
      const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
        syscall: 'getaddrinfo',
        hostname,
      });
      callback(err, options.all ? [] : '', 0);
      return;
    }
    dnsLookup(hostname, options, callback);
  };
}

/** The per-request bounds of the run on every vault request: timeout, cancellation, one RequestEvent each. */
function boundsPolicy(bounds: NetworkBounds): Policy {
  return {
    name: 'sendasappBounds',
    async sendRequest(request, next) {
      request.timeout = bounds.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      if (bounds.signal)
        request.abortSignal = request.abortSignal
          ? AbortSignal.any([request.abortSignal as AbortSignal, bounds.signal])
          : bounds.signal;
      const started = performance.now();
      const report = (status: number | string): void =>
        bounds.onRequest?.({
          service: 'keyvault',
          method: request.method,
          target: logTarget(request.url),
          status,
          ms: Math.round(performance.now() - started),
        });
      try {
        const response = await next(request);
        report(response.status);
        return response;
      } catch (err) {
        const code = callError(err).code;
        report(code ?? 'error');
        // A vault name without a DNS name is final: the SDK's retries (it counts ENOTFOUND as passing) would only
        // delay the answer.
        if (code === 'ENOTFOUND') throw new VaultHostNotFound(new URL(request.url).hostname);
        throw err;
      }
    },
  };
}

export interface KeyVaultSinkOptions {
  /** The --secret-out value as given. */
  uri: string;
  profile: CloudProfile;
  credential: TokenCredential;
  bounds?: NetworkBounds;
}

/** The SDK client for a vault, with the profile's CA and DNS, the run's bounds and its retry pacing. */
export function secretClientFor(vaultUrl: string, o: Omit<KeyVaultSinkOptions, 'uri'>): SecretClient {
  const kv = o.profile.keyVault;
  const agent =
    o.profile.caPem || kv?.hosts
      ? new HttpsAgent({
          keepAlive: true,
          ...(o.profile.caPem ? { ca: o.profile.caPem } : {}),
          ...(kv?.hosts ? { lookup: hostsLookup(kv.hosts, kv.dnsSuffix) } : {}),
        })
      : undefined;
  const policies: NonNullable<SecretClientOptions['additionalPolicies']> = [
    { policy: boundsPolicy(o.bounds ?? {}), position: 'perRetry' },
  ];
  if (agent)
    policies.push({
      policy: {
        name: 'sendasappAgent',
        sendRequest: (request, next) => {
          request.agent = agent;
          return next(request);
        },
      },
      position: 'perCall',
    });
  return new SecretClient(vaultUrl, o.credential, {
    additionalPolicies: policies,
    retryOptions: { maxRetries: 3, retryDelayInMs: o.bounds?.retryBaseMs ?? 1000, maxRetryDelayInMs: 16_000 },
    userAgentOptions: { userAgentPrefix: 'sendasapp' },
  });
}

/** Tags of a version: whose credential it holds (a secret of another app or tenant is never taken over). */
function tagsOf(record: SinkFile): Record<string, string> {
  return {
    ...(record.tenantId ? { tenant: record.tenantId } : {}),
    ...(record.clientId ? { appId: record.clientId } : {}),
    ...(record.credential ? { keyId: record.credential.keyId } : {}),
  };
}

/** "Key Vault Secrets Officer" for the principal the 403 names, on the vault it names (from its message). */
function roleFix(vault: string, message: string): string {
  const oid = /oid=([0-9a-f-]{36})/i.exec(message)?.[1];
  const scope = /Resource: '([^']+?)(?:\/secrets\/[^']*)?'/.exec(message)?.[1];
  const command =
    oid && scope
      ? ` (az role assignment create --role "Key Vault Secrets Officer" --assignee ${oid} --scope ${scope})`
      : '';
  return `grant the operator the role "Key Vault Secrets Officer" on vault ${vault}${command}, or an access policy with secret get, list and set; or choose another --secret-out`;
}

export class KeyVaultSink implements Sink {
  readonly kind = 'keyvault' as const;
  readonly file: string;
  readonly address: VaultSecretAddress;
  readonly vaultUrl: string;
  private readonly client: SecretClient;
  private readonly signal?: AbortSignal;
  private loaded = false;
  private held: SinkFile | undefined;

  constructor(o: KeyVaultSinkOptions) {
    const address = parseVaultUri(o.uri);
    if (!address) throw new Error(`--secret-out ${o.uri} is not a Key Vault secret URI`);
    this.file = o.uri;
    this.address = address;
    this.vaultUrl = vaultUrlFor(address, o.profile);
    this.client = secretClientFor(this.vaultUrl, o);
    this.signal = o.bounds?.signal;
  }

  private where(): string {
    return `secret ${this.address.secret} in vault ${this.address.vault}`;
  }

  private refuse(problem: SinkProblem, reason: string, fix: string): SinkInspection {
    return { ok: false, file: this.file, problem, reason, fix };
  }

  /** The refusal for a vault call that failed, in the operator's words. */
  private refusal(e: VaultCallError): SinkInspection {
    const vault = this.address.vault;
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
      return this.refuse(
        'vault-not-found',
        `there is no vault ${vault}: ${new URL(this.vaultUrl).hostname} has no DNS name (${e.code})`,
        'check the vault name and --cloud, or create the vault',
      );
    if (e.status === 403)
      return this.refuse(
        'vault-forbidden',
        `the operator may not read secrets in vault ${vault} (403 ${e.code ?? 'Forbidden'})`,
        roleFix(vault, e.detail),
      );
    if (e.status === 401)
      return this.refuse(
        'vault-unauthorized',
        `vault ${vault} refused the operator's token (401: ${e.message})`,
        'sign the operator in to the tenant the vault belongs to, or choose a vault of this tenant',
      );
    return this.refuse(
      'vault-unreachable',
      `${serviceLabel('keyvault', this.vaultUrl)} did not answer the read of ${this.where()} (${e.status ?? e.code ?? 'no answer'}: ${e.message})`,
      'check the network and --cloud / --endpoints, then rerun',
    );
  }

  /** Whether a deleted (recoverable) secret holds the name: a new version could not be written then. */
  private async deletedProblem(): Promise<SinkInspection | undefined> {
    try {
      await this.client.getDeletedSecret(this.address.secret, { abortSignal: this.signal });
    } catch {
      return undefined; // none (404), or not visible to the operator: the write will tell
    }
    return this.refuse(
      'secret-deleted',
      `${this.where()} is deleted but recoverable: its name cannot be reused until it is recovered or purged`,
      `recover it (az keyvault secret recover --vault-name ${this.address.vault} --name ${this.address.secret}), purge it, or choose another --secret-out`,
    );
  }

  async inspect(expect: Base = {}): Promise<SinkInspection> {
    let value: string | undefined;
    let tags: Record<string, string> = {};
    try {
      const s = await this.client.getSecret(this.address.secret, { abortSignal: this.signal });
      value = s.value;
      tags = s.properties.tags ?? {};
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason;
      const e = callError(err);
      if (e.status !== 404) return this.refusal(e);
      const deleted = await this.deletedProblem();
      if (deleted) return deleted;
      this.held = undefined;
      this.loaded = true;
      return { ok: true, file: this.file, state: 'absent' };
    }
    const held = parseRecord(value);
    const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
    const tenant = tags.tenant ?? held?.tenantId;
    const app = tags.appId ?? held?.clientId;
    if (expect.tenantId && tenant && !same(tenant, expect.tenantId))
      return this.refuse(
        'other-tenant',
        `${this.where()} holds a credential for another tenant (${tenant})`,
        'give each tenant its own --secret-out',
      );
    if (expect.clientId && app && !same(app, expect.clientId))
      return this.refuse(
        'other-app',
        `${this.where()} holds the credential of another app (client id ${app})`,
        'give each app its own --secret-out',
      );
    if (!held)
      return this.refuse(
        'not-a-credential-file',
        `${this.where()} exists and is not a sendasapp credential`,
        'choose another --secret-out (a secret name of its own)',
      );
    this.held = held;
    this.loaded = true;
    const c = held.credential;
    return {
      ok: true,
      file: this.file,
      state: 'ours',
      held: {
        ...(held.tenantId ? { tenantId: held.tenantId } : {}),
        ...(held.clientId ? { clientId: held.clientId } : {}),
        credential: c ? { type: c.type, keyId: c.keyId, expires: c.expires, displayName: c.displayName } : null,
        pending: held.pending,
      },
    };
  }

  read(): SinkFile | undefined {
    if (!this.loaded) throw new Error('the Key Vault sink was read before the preflight inspected it');
    return this.held;
  }

  /** A new version holding the credential held so far and the marker of the one being created. */
  async markPending(base: Base, displayName: string): Promise<void> {
    await this.write(withPending(this.read(), base, displayName));
  }

  /** A new version holding the new credential; the one held so far stays in `previous` while it is alive. */
  async store(
    base: Base,
    credential: StoredCredential,
    opts: { retired?: string[]; now?: number } = {},
  ): Promise<void> {
    await this.write(withStored(this.read(), base, credential, opts));
  }

  /** A new version with the end of the grace of replaced credentials. */
  async scheduleRetirement(keyIds: string[], retireAfter: string): Promise<void> {
    const next = withRetirement(this.read(), keyIds, retireAfter);
    if (next) await this.write(next);
  }

  /** A new version with a replaced credential current again (a rotation whose proof failed). */
  async reinstate(keyId: string): Promise<void> {
    const next = withReinstated(this.read(), keyId);
    if (next) await this.write(next);
  }

  /** A new version without replaced credentials removed from Entra. */
  async forget(keyIds: string[]): Promise<void> {
    const next = withoutPrevious(this.read(), keyIds);
    if (next) await this.write(next);
  }

  tighten(): void {
    // A vault secret has no file mode: who may read it is the vault's access control.
  }

  /**
   * Deletes the secret (all its versions) for a teardown: a soft delete, which the vault keeps for its retention
   * days; `purge` then removes it for good (not possible in a vault with purge protection). An absent secret is
   * no error (idempotent).
   */
  async remove(o: { purge?: boolean } = {}): Promise<'deleted' | 'purged' | 'absent'> {
    const name = this.address.secret;
    const fail = (err: unknown, what: string): Error => {
      const e = callError(err);
      const fix = e.status === 403 ? roleFix(this.address.vault, e.detail) : 'check the vault and rerun';
      return new Error(
        `Azure Key Vault did not ${what} ${this.where()} (${e.status ?? e.code}: ${e.message}). Fix: ${fix}`,
      );
    };
    let existed = true;
    try {
      const poller = await this.client.beginDeleteSecret(name, { abortSignal: this.signal, intervalInMs: 500 });
      await poller.pollUntilDone();
    } catch (err) {
      if (callError(err).status !== 404) throw fail(err, 'delete');
      existed = false;
    }
    if (o.purge) {
      try {
        await this.client.purgeDeletedSecret(name, { abortSignal: this.signal });
        existed = true;
      } catch (err) {
        if (callError(err).status !== 404) throw fail(err, 'purge');
      }
    }
    this.held = undefined;
    this.loaded = true;
    return !existed ? 'absent' : o.purge ? 'purged' : 'deleted';
  }

  private async write(record: SinkFile): Promise<void> {
    const c = record.credential;
    try {
      await this.client.setSecret(this.address.secret, JSON.stringify(record), {
        contentType: 'application/json',
        ...(c ? { expiresOn: new Date(c.expires) } : {}),
        tags: tagsOf(record),
        abortSignal: this.signal,
      });
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason;
      const e = callError(err);
      const fix =
        e.status === 403 ? roleFix(this.address.vault, e.detail) : 'check the vault and rerun apply (it converges)';
      throw new Error(
        `Azure Key Vault did not take the credential for ${this.where()} (${e.status ?? e.code ?? 'no answer'}: ${e.message}). Fix: ${fix}`,
      );
    }
    this.held = record;
    this.loaded = true;
  }
}

function parseRecord(value: string | undefined): SinkFile | undefined {
  if (!value) return undefined;
  try {
    const r = sinkFileSchema.safeParse(JSON.parse(value));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a --secret-out value names a Key Vault secret (else it is a file). */
export function isKeyVaultTarget(secretOut: string): boolean {
  return parseVaultUri(secretOut) !== undefined;
}

/** The sink a --secret-out names: a Key Vault secret for a vault URI, else the file sink. */
export function openSink(secretOut: string, o: Omit<KeyVaultSinkOptions, 'uri'>): Sink {
  return isKeyVaultTarget(secretOut) ? new KeyVaultSink({ uri: secretOut, ...o }) : new CredentialSink(secretOut);
}
