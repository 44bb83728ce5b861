/**
 * The Key Vault sink, in process against the emulated tenant and vault: apply writes the credential record (the
 * file sink's JSON) as a secret version with the credential's expiry, the tags tenant / appId / keyId and content
 * type application/json, and the secret value in it is the one Entra knows; a rerun writes nothing anywhere;
 * `--new-secret` writes a new version and the version holding the replaced credential stays readable; a vault
 * the operator has no role on, a vault that does not exist, and a secret of another app under the name each stop
 * the run in the preflight, before any Graph or Exchange write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { loadEndpointsFile } from '../../src/auth/index.js';
import { KeyVaultSink, secretClientFor, sinkFileSchema, type SinkFile } from '../../src/handoff/index.js';
import { sha256Hex } from '../../src/emulator/state.js';
import { uniqueNameFor } from '../../src/entra/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { credentialOptions } from '../helpers/azure.js';
import { CONTOSO } from '../helpers/e2e.js';
import { FAST_HOOKS, runTenant, type RunFlags } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('--secret-out keyvault://: the credential sink in Azure Key Vault', () => {
  let emu: TestEmulator;
  let vault: SecretClient;
  const flags = (appName: string, secretOut: string, extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName,
    secretOut,
    enableSmtpAuth: 'mailbox',
    wait: '1m',
    ...extra,
  });
  const apply = (f: RunFlags) => runTenant(emu, f, 'apply', { hooks: FAST_HOOKS });
  const record = (value: string | undefined): SinkFile => sinkFileSchema.parse(JSON.parse(value ?? ''));
  const versionsOf = async (name: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const p of vault.listPropertiesOfSecretVersions(name)) out.push(p.version!);
    return out;
  };
  const appOf = (name: string) =>
    emu.store.world.applications.find((a) => a.entity.uniqueName === uniqueNameFor(name))!;

  beforeAll(async () => {
    emu = await startTestEmulator();
    const profile = loadEndpointsFile(emu.endpointsFile);
    const op = emu.endpoints.operator;
    const credential = new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, credentialOptions(emu));
    vault = secretClientFor(`https://contoso-vault.vault.azure.net:${profile.keyVault!.port}`, { profile, credential });
  });
  afterAll(async () => emu?.close());

  let firstVersion: string;
  let firstKeyId: string;

  it('apply writes the credential to the vault: the record, its expiry and tags; the secret is the one Entra knows', async () => {
    const r = await apply(flags('KV Sink App', 'keyvault://contoso-vault/kv-sink-app'));
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    const app = appOf('KV Sink App');
    const latest = await vault.getSecret('kv-sink-app');
    const held = record(latest.value);
    expect(held.kind).toBe('sendasapp-credential');
    expect(held.clientId).toBe(app.entity.appId);
    expect(held.tenantId).toBe(emu.store.findTenant(CONTOSO)!.id);
    expect(held.pending).toBeNull();
    const c = held.credential!;
    expect(c.type).toBe('secret');
    if (c.type !== 'secret') return;
    const entra = app.entity.passwordCredentials.find((p) => p.keyId === c.keyId)!;
    expect(entra).toBeDefined();
    // The value is the secret Entra made (it keeps only its hash).
    expect(app.secrets.find((s) => s.keyId === c.keyId)!.hash).toBe(sha256Hex(c.secret));
    expect(latest.properties.expiresOn?.getTime()).toBe(Math.floor(Date.parse(entra.endDateTime!) / 1000) * 1000);
    expect(latest.properties.tags).toEqual({ tenant: held.tenantId, appId: held.clientId, keyId: c.keyId });
    expect(latest.properties.contentType).toBe('application/json');
    expect(r.result.credential?.sink).toBe('keyvault://contoso-vault/kv-sink-app');
    firstVersion = latest.properties.version!;
    firstKeyId = c.keyId;
  });

  it('a rerun reads the vault and writes nothing: no Graph, Exchange or vault write, no new version', async () => {
    const versions = await versionsOf('kv-sink-app');
    const r = await apply(flags('KV Sink App', 'keyvault://contoso-vault/kv-sink-app'));
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    expect(r.writes).toEqual([]);
    expect(r.log.some((e) => e.service === 'keyvault' && e.method === 'GET' && e.status === 200)).toBe(true);
    expect(await versionsOf('kv-sink-app')).toEqual(versions);
  });

  it('--new-secret writes a new version with the new credential; the version with the replaced one stays readable', async () => {
    const https = `https://contoso-vault.vault.azure.net/secrets/kv-sink-app`;
    const r = await apply(flags('KV Sink App', https, { newSecret: true }));
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    const latest = await vault.getSecret('kv-sink-app');
    const now = record(latest.value).credential!;
    expect(now.keyId).not.toBe(firstKeyId);
    expect(latest.properties.version).not.toBe(firstVersion);
    expect(latest.properties.tags?.keyId).toBe(now.keyId);
    const old = await vault.getSecret('kv-sink-app', { version: firstVersion });
    expect(record(old.value).credential!.keyId).toBe(firstKeyId);
    // Entra: the replaced secret was retired once its successor was in the vault.
    expect(appOf('KV Sink App').entity.passwordCredentials.map((p) => p.keyId)).toEqual([now.keyId]);
  });

  it('remove() soft-deletes the secret for a teardown, and purges it when asked (idempotent)', async () => {
    const profile = loadEndpointsFile(emu.endpointsFile);
    const op = emu.endpoints.operator;
    const credential = new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, credentialOptions(emu));
    await vault.setSecret('to-tear-down', 'x');
    const sink = new KeyVaultSink({ uri: 'keyvault://contoso-vault/to-tear-down', profile, credential });
    expect(await sink.remove()).toBe('deleted');
    expect((await vault.getDeletedSecret('to-tear-down')).name).toBe('to-tear-down');
    expect(await sink.remove({ purge: true })).toBe('purged');
    await expect(vault.getDeletedSecret('to-tear-down')).rejects.toMatchObject({ statusCode: 404 });
    expect(await sink.remove({ purge: true })).toBe('absent');
  });

  it('a vault the operator has no role on stops the run in the preflight (403: the role to grant), nothing written', async () => {
    const r = await apply(flags('KV Locked App', 'keyvault://contoso-locked/kv-locked-app'));
    expect(r.result.outcome).toBe('bad-input');
    expect(r.result.failure?.field).toBe('--secret-out');
    expect(r.result.failure?.message).toMatch(/may not read secrets in vault contoso-locked \(403 Forbidden\)/);
    expect(r.result.failure?.message).toMatch(/"Key Vault Secrets Officer"/);
    expect(r.log.filter((e) => e.service === 'keyvault').map((e) => e.status)).toContain(403);
    expect(r.writes).toEqual([]);
    expect(r.log.filter((e) => e.write && (e.service === 'graph' || e.service === 'exchange'))).toEqual([]);
    expect(appOf('KV Locked App')).toBeUndefined();
  });

  it('an operator who may read but not write (Secrets User) passes the preflight; the first vault write, before the credential is made in Entra, stops the run with the role to grant', async () => {
    const locked = emu.store.world.vaults!.find((v) => v.name === 'contoso-locked')!;
    locked.access.push({ principal: emu.endpoints.operator.clientId, role: 'Key Vault Secrets User' });
    try {
      const r = await apply(flags('KV Reader App', 'keyvault://contoso-locked/kv-reader-app'));
      expect(r.result.outcome).toBe('failed');
      const failed = r.result.resources.find((x) => x.status === 'failed');
      expect(JSON.stringify(failed)).toMatch(
        /Azure Key Vault did not take the credential.*403.*Key Vault Secrets Officer/,
      );
      const puts = r.log.filter((e) => e.service === 'keyvault' && e.method === 'PUT').map((e) => e.status);
      expect(puts.at(-1)).toBe(403);
      // No orphan: the pending marker could not be written, so no credential was added in Entra.
      expect(appOf('KV Reader App').entity.passwordCredentials).toEqual([]);
      expect(r.log.some((e) => e.service === 'graph' && e.path.endsWith('/addPassword'))).toBe(false);
    } finally {
      locked.access.pop();
    }
  });

  it('a vault that does not exist stops the run in the preflight (no DNS name), nothing written', async () => {
    const r = await apply(flags('KV Missing App', 'keyvault://nosuchvault/kv-missing-app'));
    expect(r.result.outcome).toBe('bad-input');
    expect(r.result.failure?.message).toMatch(
      /there is no vault nosuchvault: nosuchvault\.vault\.azure\.net has no DNS name/,
    );
    expect(r.writes).toEqual([]);
  });

  it("a secret of another app under the name is refused by its tags, and the vault's secret is left as it was", async () => {
    const other = '11111111-2222-3333-4444-555555555555';
    const theirs = { kind: 'sendasapp-credential', clientId: other, credential: null, pending: null };
    await vault.setSecret('someone-else', JSON.stringify(theirs), { tags: { appId: other } });
    const before = await versionsOf('someone-else');
    const r = await apply(flags('KV Other App', 'keyvault://contoso-vault/someone-else'));
    expect(r.result.outcome).toBe('bad-input');
    expect(r.result.failure?.message).toMatch(
      /keyvault:\/\/contoso-vault\/someone-else holds the credential of another app \(11111111-/,
    );
    expect(r.writes).toEqual([]);
    expect(await versionsOf('someone-else')).toEqual(before);
  });
});
