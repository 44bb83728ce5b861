/**
 * A person's sign-in (browser or device code), asked once and used for every tenant: the first token is signed in
 * at the sign-in tenant's authority (the home tenant, or the partner tenant with --partner-tenant); a token for
 * another tenant comes silently from the same refresh token at THAT tenant's authority (MSAL's multi-tenant
 * refresh), through a credential per tenant that shares the one token cache and the signed-in account.
 *
 * (One @azure/identity credential cannot do this alone: its silent path always asks the authority it was made for.)
 * A tenant that Entra will not let the person into (not a member, no guest account, no active GDAP relationship)
 * fails there and then; no second sign-in is started for it.
 */
import {
  AuthenticationRequiredError,
  DeviceCodeCredential,
  InteractiveBrowserCredential,
  type AccessToken,
  type AuthenticationRecord,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import { shareCache, type TokenCacheStore } from './token-cache.js';

type UserCredential = TokenCredential & {
  authenticate(scopes: string | string[], options?: GetTokenOptions): Promise<AuthenticationRecord | undefined>;
};

export interface UserSignInOptions {
  mode: 'interactive' | 'device-code';
  /** The tenant the person signs in at. */
  signInTenant: string;
  store: TokenCacheStore;
  /** Client options every credential shares (authority host, TLS, bounds). */
  clientOptions: Record<string, unknown>;
  /** Device-code instructions (stderr). */
  prompt: (message: string) => void;
}

/** A new sign-in could not be used for a tenant (Entra wanted the person to sign in there again). */
export class TenantAccessError extends Error {
  constructor(
    readonly tenant: string,
    readonly user: string,
  ) {
    super(
      `the signed-in user ${user} gets no token for tenant ${tenant}: Entra does not let this account into that tenant without a new sign-in (not a member or guest there; for a partner user: no active GDAP relationship with that customer). Fix: check --tenant, or sign in as a user of that tenant; with --partner-tenant, the preflight's partner check names the relationship and roles to request`,
    );
    this.name = 'TenantAccessError';
  }
}

export class UserSignIn implements TokenCredential {
  private readonly byTenant = new Map<string, UserCredential>();
  private signedIn?: Promise<AuthenticationRecord>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: UserSignInOptions) {}

  private credential(tenant: string, record: AuthenticationRecord | undefined): UserCredential {
    const key = tenant.toLowerCase();
    const known = this.byTenant.get(key);
    if (known) return known;
    const primary = key === this.o.signInTenant.toLowerCase();
    const options = {
      ...this.o.clientOptions,
      tenantId: tenant,
      tokenCachePersistenceOptions: shareCache(this.o.store),
      // MSAL looks a token up by the account's tenant: the account's profile in THIS tenant (same home account,
      // so the refresh token is found; no access token of another tenant is).
      ...(record ? { authenticationRecord: primary ? record : { ...record, tenantId: tenant } } : {}),
      // Only the sign-in tenant may ask the person; another tenant is served by the refresh token or fails.
      disableAutomaticAuthentication: !primary,
    };
    const made: UserCredential =
      this.o.mode === 'device-code'
        ? new DeviceCodeCredential({ ...options, userPromptCallback: (info) => this.o.prompt(info.message) })
        : new InteractiveBrowserCredential({ ...options, redirectUri: 'http://localhost' });
    this.byTenant.set(key, made);
    return made;
  }

  /** The account, from the cache (an earlier command) or from a sign-in now at the sign-in tenant. */
  private account(scopes: string | string[], options?: GetTokenOptions): Promise<AuthenticationRecord> {
    this.signedIn ??= (async () => {
      const kept = this.o.store.account();
      if (kept) return kept;
      const record = await this.credential(this.o.signInTenant, undefined).authenticate(scopes, {
        abortSignal: options?.abortSignal,
      });
      if (!record) throw new Error('the sign-in returned no account');
      this.o.store.setAccount(record);
      return record;
    })();
    this.signedIn.catch(() => {
      this.signedIn = undefined;
    });
    return this.signedIn;
  }

  /**
   * One acquisition at a time: the tenants' credentials share one MSAL cache, which each reads before and writes
   * after a request; two at once would lose what the other wrote (a concurrent refresh then finds no account).
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const next = this.queue.then(() => this.acquire(scopes, options));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async acquire(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const tenant = options?.tenantId ?? this.o.signInTenant;
    const record = await this.account(scopes, options);
    const { tenantId: _drop, ...rest } = options ?? {};
    try {
      const t = await this.credential(tenant, record).getToken(scopes, rest);
      if (!t) throw new Error('the credential returned no token');
      return t;
    } catch (err) {
      if (err instanceof AuthenticationRequiredError && tenant.toLowerCase() !== this.o.signInTenant.toLowerCase())
        throw new TenantAccessError(tenant, record.username);
      throw err;
    }
  }
}
