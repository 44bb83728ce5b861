/**
 * Where a person's sign-in is kept: MSAL's token cache (access, id and REFRESH tokens) and the signed-in account.
 *
 * - in memory (default): every tenant of one process shares one sign-in (each tenant's credential reads and writes
 *   the same cache, so a refresh token obtained once serves every tenant's authority);
 * - a file (`--token-cache FILE`, opt-in): kept across commands, written atomically with mode 0600. It holds refresh
 *   tokens UNENCRYPTED: whoever can read the file can act as the signed-in person until the tokens are revoked or
 *   expire (90 days of inactivity). Keep it in a private directory, or do not use it.
 *
 * @azure/identity takes a cache only through its persistence plugin slot (`useIdentityPlugin`); `shareCache`
 * registers a provider there that serves the store a credential names in its `tokenCachePersistenceOptions`.
 */
import {
  chmodSync,
  closeSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { useIdentityPlugin, type AuthenticationRecord, type TokenCachePersistenceOptions } from '@azure/identity';
import { ConfigError } from '../config/index.js';

/** What a sign-in keeps: MSAL's serialized cache and the account it signed in (to sign in silently next time). */
export interface TokenCacheStore {
  /** The file, when the cache outlives the process. */
  readonly file?: string;
  readMsal(): string | undefined;
  writeMsal(data: string): void;
  account(): AuthenticationRecord | undefined;
  setAccount(record: AuthenticationRecord): void;
}

interface CacheFileContent {
  version: 1;
  /** What this file is, for whoever opens it. */
  note: string;
  account?: AuthenticationRecord;
  msal?: string;
}

const NOTE =
  'sendasapp operator token cache: holds refresh tokens, unencrypted. Anyone who can read this file can act as the signed-in user. Delete it to sign out.';

export function memoryTokenCache(): TokenCacheStore {
  let msal: string | undefined;
  let account: AuthenticationRecord | undefined;
  return {
    readMsal: () => msal,
    writeMsal: (d) => {
      msal = d;
    },
    account: () => account,
    setAccount: (r) => {
      account = r;
    },
  };
}

function readCacheFile(file: string): CacheFileContent | undefined {
  let text: string;
  try {
    const st = lstatSync(file);
    if (st.isSymbolicLink() || !st.isFile())
      throw new ConfigError('--token-cache', `${file} is not a regular file (a link is not followed)`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('--token-cache', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const data = JSON.parse(text) as CacheFileContent;
    return data && data.version === 1 ? data : undefined;
  } catch {
    // A damaged cache is a sign-in to do again, not a failure.
    return undefined;
  }
}

/** Writes the whole file through a temporary file in the same directory (mode 0600) and a rename. */
function writeCacheFile(file: string, content: CacheFileContent): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(content));
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

/** The opt-in file cache (`--token-cache FILE`). The file is read at each cache access, so processes share it. */
export function fileTokenCache(file: string): TokenCacheStore {
  const absolute = path.resolve(file);
  let dir: import('node:fs').Stats | undefined;
  try {
    dir = statSync(path.dirname(absolute));
  } catch {
    dir = undefined;
  }
  if (!dir?.isDirectory())
    throw new ConfigError('--token-cache', `the directory of ${absolute} does not exist (create it, mode 0700)`);
  readCacheFile(absolute);
  const current = (): CacheFileContent => readCacheFile(absolute) ?? { version: 1, note: NOTE };
  return {
    file: absolute,
    readMsal: () => current().msal,
    writeMsal: (msal) => writeCacheFile(absolute, { ...current(), note: NOTE, msal }),
    account: () => current().account,
    setAccount: (account) => writeCacheFile(absolute, { ...current(), note: NOTE, account }),
  };
}

/** The option property that carries a store to the provider (the SDK passes the options object through). */
const STORE_KEY = 'sendasappTokenCacheStore';

type CachePluginFactory = (options?: TokenCachePersistenceOptions) => Promise<import('@azure/msal-node').ICachePlugin>;

function cachePlugin(store: TokenCacheStore): import('@azure/msal-node').ICachePlugin {
  return {
    async beforeCacheAccess(c) {
      const data = store.readMsal();
      if (data !== undefined) c.tokenCache.deserialize(data);
    },
    async afterCacheAccess(c) {
      if (c.cacheHasChanged) store.writeMsal(c.tokenCache.serialize());
    },
  };
}

/**
 * The `tokenCachePersistenceOptions` that make a credential use `store`. Registers the provider in @azure/identity's
 * plugin slot (the same provider each time: it keeps no state, the store travels in the options).
 */
export function shareCache(store: TokenCacheStore): TokenCachePersistenceOptions {
  const provider: CachePluginFactory = async (options) => {
    const given = (options as Record<string, unknown> | undefined)?.[STORE_KEY] as TokenCacheStore | undefined;
    if (!given) throw new Error('this token cache provider serves only sendasapp stores');
    return cachePlugin(given);
  };
  useIdentityPlugin((context) => {
    (
      context as { cachePluginControl: { setPersistence(f: CachePluginFactory): void } }
    ).cachePluginControl.setPersistence(provider);
  });
  return { enabled: true, name: 'sendasapp', [STORE_KEY]: store } as TokenCachePersistenceOptions;
}
