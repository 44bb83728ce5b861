/**
 * The emulated Azure Key Vault with the real @azure/keyvault-secrets SDK: the challenge flow (a first request without
 * a token gets 401 and the challenge, whose resource the SDK verifies against the vault's host), set / get (latest and
 * by version) / list versions / update / soft delete / purge, and the refusals of the real service: a token of
 * another audience (401 AKV10022), a caller without a role on the vault (403 ForbiddenByRbac), a name outside
 * Key Vault's rules (400 BadParameter), and a vault name that does not exist (no DNS name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { ClientSecretCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { loadEndpointsFile, type CloudProfile } from '../../src/auth/index.js';
import { hostsLookup, secretClientFor } from '../../src/handoff/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { credentialOptions } from '../helpers/azure.js';

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  message: string;
  /** The error body as the SDK parsed it. */
  details?: { error: { code: string; message: string; innerError?: { code: string } } };
  response?: { headers: { get(name: string): string | undefined } };
}

async function failure(p: Promise<unknown>): Promise<RestErrorLike> {
  try {
    await p;
  } catch (err) {
    return err as RestErrorLike;
  }
  throw new Error('the call succeeded');
}

describe('Key Vault emulator with the real @azure/keyvault-secrets SDK', () => {
  let emu: TestEmulator;
  let profile: CloudProfile;
  let operator: TokenCredential;
  let vault: SecretClient;
  let vaultUrl: string;
  const urlOf = (name: string): string => `https://${name}.vault.azure.net:${profile.keyVault!.port}`;
  const client = (name: string, credential: TokenCredential = operator): SecretClient =>
    secretClientFor(urlOf(name), { profile, credential, bounds: { retryBaseMs: 10 } });

  beforeAll(async () => {
    emu = await startTestEmulator();
    profile = loadEndpointsFile(emu.endpointsFile);
    const op = emu.endpoints.operator;
    operator = new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, credentialOptions(emu));
    vaultUrl = urlOf('contoso-vault');
    vault = client('contoso-vault');
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('publishes the vaults of the world in endpoints.json: the vault DNS suffix, the port and a host map', () => {
    expect(emu.endpoints.keyVault.dnsSuffix).toBe('vault.azure.net');
    expect(emu.endpoints.keyVault.hosts).toEqual({
      'contoso-vault.vault.azure.net': '127.0.0.1',
      'contoso-locked.vault.azure.net': '127.0.0.1',
    });
  });

  it('answers a request without a token 401 with the challenge (authority/tenant, resource https://vault.azure.net)', async () => {
    const contoso = emu.store.findTenant('contoso.onmicrosoft.com')!;
    const dispatcher = new Agent({
      connect: { ca: emu.ca, lookup: hostsLookup(emu.endpoints.keyVault.hosts, 'vault.azure.net') },
    });
    try {
      const res = await fetch(`${vaultUrl}/secrets/probe?api-version=7.4`, { dispatcher } as RequestInit);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer authorization="${emu.endpoints.authorityHost}/${contoso.id}", resource="https://vault.azure.net"`,
      );
      expect(await res.json()).toEqual({
        error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
      });
    } finally {
      await dispatcher.close();
    }
  });

  let first: { version: string; value: string };

  it('sets a secret through the challenge flow: 401 first, then 200 with the version id, attributes and tags', async () => {
    const before = emu.store.log.length;
    const exp = new Date(Date.now() + 30 * 86_400_000);
    const s = await vault.setSecret('sendasapp-smtp', '{"v":1}', {
      expiresOn: exp,
      tags: { tenant: 't1', appId: 'a1', keyId: 'k1' },
      contentType: 'application/json',
    });
    const calls = emu.store.log.slice(before).filter((e) => e.service === 'keyvault');
    expect(calls.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      'PUT /secrets/sendasapp-smtp 401',
      'PUT /secrets/sendasapp-smtp 200',
    ]);
    expect(s.properties.id).toMatch(new RegExp(`^${vaultUrl}/secrets/sendasapp-smtp/[0-9a-f]{32}$`));
    expect(s.properties.vaultUrl).toBe(vaultUrl);
    expect(s.properties.expiresOn?.getTime()).toBe(Math.floor(exp.getTime() / 1000) * 1000);
    expect(s.properties.tags).toEqual({ tenant: 't1', appId: 'a1', keyId: 'k1' });
    expect(s.properties.contentType).toBe('application/json');
    expect(s.properties.enabled).toBe(true);
    expect(s.properties.recoveryLevel).toBe('Recoverable+Purgeable');
    expect(s.properties.createdOn).toBeInstanceOf(Date);
    expect(s.properties.updatedOn).toBeInstanceOf(Date);
    first = { version: s.properties.version!, value: s.value! };
  });

  it('keeps every version: the latest is the newest, an older one is read by its version, the list has both', async () => {
    const second = await vault.setSecret('sendasapp-smtp', '{"v":2}', { tags: { keyId: 'k2' } });
    expect((await vault.getSecret('sendasapp-smtp')).value).toBe('{"v":2}');
    const old = await vault.getSecret('sendasapp-smtp', { version: first.version });
    expect(old.value).toBe(first.value);
    expect(old.properties.tags).toEqual({ tenant: 't1', appId: 'a1', keyId: 'k1' });
    const versions: string[] = [];
    for await (const p of vault.listPropertiesOfSecretVersions('sendasapp-smtp')) versions.push(p.version!);
    expect(versions.sort()).toEqual([first.version, second.properties.version!].sort());
    // Names are case-insensitive.
    expect((await vault.getSecret('SENDASAPP-SMTP')).value).toBe('{"v":2}');
  });

  it('updates the properties of a version without a new version', async () => {
    const p = await vault.updateSecretProperties('sendasapp-smtp', first.version, { tags: { keyId: 'k1b' } });
    expect(p.tags).toEqual({ keyId: 'k1b' });
    const versions: string[] = [];
    for await (const v of vault.listPropertiesOfSecretVersions('sendasapp-smtp')) versions.push(v.version!);
    expect(versions).toHaveLength(2);
  });

  it('answers a secret that does not exist 404 SecretNotFound', async () => {
    const err = await failure(vault.getSecret('no-such-secret'));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('SecretNotFound');
  });

  it('soft-deletes (the name is then refused for new versions: 409), and purges', async () => {
    await vault.setSecret('to-delete', 'x');
    const poller = await vault.beginDeleteSecret('to-delete', { intervalInMs: 10 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${vaultUrl}/deletedsecrets/to-delete`);
    expect(deleted.scheduledPurgeDate).toBeInstanceOf(Date);
    expect((await failure(vault.getSecret('to-delete'))).statusCode).toBe(404);
    expect((await vault.getDeletedSecret('to-delete')).name).toBe('to-delete');
    const conflict = await failure(vault.setSecret('to-delete', 'y'));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.details?.error.innerError?.code).toBe('ObjectIsDeletedButRecoverable');
    await vault.purgeDeletedSecret('to-delete');
    expect((await failure(vault.getDeletedSecret('to-delete'))).statusCode).toBe(404);
    expect((await vault.setSecret('to-delete', 'z')).value).toBe('z');
  });

  it('refuses a name outside the rules (1-127 letters, digits, hyphens): 400 BadParameter', async () => {
    const err = await failure(vault.setSecret('bad_name', 'x'));
    expect(err.statusCode).toBe(400);
    expect(err.details).toEqual({
      error: { code: 'BadParameter', message: 'The request URI contains an invalid name: bad_name' },
    });
  });

  it('refuses a token of another audience: 401 AKV10022 (after the challenge, with the challenge again)', async () => {
    const op = emu.endpoints.operator;
    const graphToken: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: emu.mintAppToken(op.tenantId, op.clientId, 'graph'),
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
    };
    const err = await failure(client('contoso-vault', graphToken).getSecret('sendasapp-smtp'));
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe(
      'AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://graph.microsoft.com.',
    );
    expect(err.response!.headers.get('www-authenticate')).toMatch(/resource="https:\/\/vault\.azure\.net"/);
  });

  it("refuses a vault token of another tenant: 401 AKV10032 (the vault is the first tenant's)", async () => {
    const op = emu.endpoints.operator;
    const fabrikam = emu.store.findTenant('fabrikam.onmicrosoft.com')!.id;
    const elsewhere = new ClientSecretCredential(fabrikam, op.clientId, op.clientSecret, credentialOptions(emu));
    const token = await elsewhere.getToken('https://vault.azure.net/.default');
    const otherTenant: TokenCredential = { getToken: async () => token };
    const err = await failure(client('contoso-vault', otherTenant).getSecret('sendasapp-smtp'));
    expect(err.statusCode).toBe(401);
    expect(err.message).toMatch(
      /^AKV10032: Invalid issuer\. Expected one of https:\/\/sts\.windows\.net\/[0-9a-f-]{36}\/, /,
    );
    expect(err.message).toContain(`found https://sts.windows.net/${fabrikam}/.`);
  });

  it('refuses a caller without a role on the vault: 403 Forbidden, ForbiddenByRbac, naming caller and action', async () => {
    const err = await failure(client('contoso-locked').getSecret('anything'));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('Forbidden');
    expect(err.details?.error.innerError).toEqual({ code: 'ForbiddenByRbac' });
    expect(err.message).toBe(err.details?.error.message);
    const lines = err.message.split('\r\n');
    expect(lines[0]).toBe('Caller is not authorized to perform action on resource.');
    expect(lines).toContain(`Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'`);
    expect(lines.find((l) => l.startsWith('Caller: '))).toMatch(
      new RegExp(`^Caller: appid=${emu.endpoints.operator.clientId};oid=[0-9a-f-]{36};iss=https://sts.windows.net/`),
    );
    expect(lines).toContain("DecisionReason: 'DeniedWithNoValidRBAC' ");
  });

  it('a vault name that does not exist has no DNS name: the SDK fails with ENOTFOUND before any request, at once', async () => {
    const before = emu.store.log.length;
    const err = await failure(client('nosuchvault').getSecret('x'));
    expect(err.message).toBe('getaddrinfo ENOTFOUND nosuchvault.vault.azure.net');
    expect(emu.store.log.slice(before).filter((e) => e.service === 'keyvault')).toEqual([]);
  });
});
