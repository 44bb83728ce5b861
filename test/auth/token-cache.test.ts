/**
 * The opt-in file cache: written atomically with mode 0600 and a note on what it holds, read back by a new store (a
 * later process), a damaged file is a new sign-in (not a failure), and a link or a missing directory is bad input
 * naming --token-cache before anyone signs in.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileTokenCache } from '../../src/auth/index.js';
import { ConfigError } from '../../src/config/index.js';
import { tempDir } from '../helpers/e2e.js';

const RECORD = {
  authority: 'https://login.microsoftonline.com/partner.onmicrosoft.com',
  homeAccountId: 'uid.utid',
  clientId: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
  tenantId: 'utid',
  username: 'agent@partner.onmicrosoft.com',
};

describe('fileTokenCache', () => {
  it('keeps the account and the MSAL cache for the next process, mode 0600', () => {
    const file = path.join(tempDir('sendasapp-cache-'), 'cache.json');
    const store = fileTokenCache(file);
    expect(store.account()).toBeUndefined();
    store.setAccount(RECORD);
    store.writeMsal('{"RefreshToken":{}}');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const later = fileTokenCache(file);
    expect(later.account()).toEqual(RECORD);
    expect(later.readMsal()).toBe('{"RefreshToken":{}}');
    expect(JSON.parse(readFileSync(file, 'utf8')).note).toMatch(/unencrypted/);
  });

  it('a damaged file is an empty cache', () => {
    const file = path.join(tempDir('sendasapp-cache-'), 'cache.json');
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(fileTokenCache(file).account()).toBeUndefined();
  });

  it('refuses a link and a missing directory', () => {
    const dir = tempDir('sendasapp-cache-');
    const target = path.join(dir, 'elsewhere.json');
    writeFileSync(target, '{}');
    const link = path.join(dir, 'cache.json');
    symlinkSync(target, link);
    expect(() => fileTokenCache(link)).toThrow(ConfigError);
    expect(() => fileTokenCache(path.join(dir, 'no-such-dir', 'cache.json'))).toThrow(/--token-cache|does not exist/);
  });
});
