/**
 * A token cache in front of the operator credential: concurrent requests for the same scope and tenant share one
 * network call, and a token is reused until shortly before it expires. (MSAL caches too, but does not join
 * concurrent acquisitions: the first requests of a run would each fetch metadata and a token.)
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

const REUSE_MARGIN_MS = 2 * 60_000;

export class CachedCredential implements TokenCredential {
  private readonly tokens = new Map<string, Promise<AccessToken>>();
  private readonly aliases = new Map<string, string>();

  constructor(private readonly inner: TokenCredential) {}

  /** Makes a tenant's domain and id share cached tokens. */
  alias(tenant: string, canonical: string): void {
    const from = tenant.toLowerCase();
    const to = canonical.toLowerCase();
    this.aliases.set(from, to);
    // Tokens fetched under the domain before the id was known serve requests by id too.
    for (const [key, token] of [...this.tokens]) {
      if (key.startsWith(`${from}|`)) this.tokens.set(`${to}|${key.slice(from.length + 1)}`, token);
    }
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const scopeKey = (Array.isArray(scopes) ? [...scopes].sort() : [scopes]).join(' ');
    const tenant = (options?.tenantId ?? '').toLowerCase();
    const key = `${this.aliases.get(tenant) ?? tenant}|${scopeKey}`;
    const cached = this.tokens.get(key);
    if (cached) {
      try {
        const t = await cached;
        if (t.expiresOnTimestamp - Date.now() > REUSE_MARGIN_MS) return t;
      } catch {
        // a failed acquisition is not cached: try again below
      }
    }
    const pending = this.inner.getToken(scopes, options).then((t) => {
      if (!t) throw new Error('the credential returned no token');
      return t;
    });
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return pending;
  }
}
