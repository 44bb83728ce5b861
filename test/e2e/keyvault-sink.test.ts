/**
 * End to end with the built CLI: `apply --secret-out keyvault://contoso-vault/<name>` writes the credential to the
 * emulated vault through @azure/keyvault-secrets (expiry and tags set), the proof passes with it, a rerun writes
 * nothing, `verify --secret-file keyvault://…` proves with what the vault holds, and nothing secret is printed; a vault the operator has no role on is refused before anything is
 * written (exit 2, naming --secret-out and the role to grant; the request log shows no Graph or Exchange write).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { loadEndpointsFile } from '../../src/auth/index.js';
import { secretClientFor } from '../../src/handoff/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { credentialOptions } from '../helpers/azure.js';
import { applyArgs, verifyArgs } from '../helpers/cli.js';
import {
  CONTOSO,
  Runs,
  appsBesidesOperator,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  findApp,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('apply --secret-out keyvault:// (the built CLI)', () => {
  let emu: TestEmulator;
  let vault: SecretClient;
  const runs = new Runs();
  const args = (appName: string, secretOut: string): string[] =>
    applyArgs(
      { endpoints: emu.endpointsFile, tenant: CONTOSO, mailboxes: [SCANNER], appName, secretOut },
      '--verify',
      'auth',
    );

  beforeAll(async () => {
    emu = await startTestEmulator();
    const profile = loadEndpointsFile(emu.endpointsFile);
    const op = emu.endpoints.operator;
    const credential = new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, credentialOptions(emu));
    vault = secretClientFor(`https://contoso-vault.vault.azure.net:${profile.keyVault!.port}`, { profile, credential });
  });
  afterAll(async () => emu?.close());

  it('writes the credential to the vault with its expiry and tags; the proof passes; a rerun writes nothing', async () => {
    const a = args('E2E Vault Sender', 'keyvault://contoso-vault/e2e-vault-sender');
    const out = expectPassed(await runs.run(a));
    expect(out.credential.sink).toBe('keyvault://contoso-vault/e2e-vault-sender');
    const app = findApp(await emu.control.tenant(CONTOSO), out.application.appId);
    const secret = await vault.getSecret('e2e-vault-sender');
    const held = JSON.parse(secret.value!) as { clientId: string; credential: { keyId: string; secret: string } };
    expect(held.clientId).toBe(out.application.appId);
    expect(app.passwordCredentials.map((p: { keyId: string }) => p.keyId)).toEqual([held.credential.keyId]);
    expect(secret.properties.tags).toEqual({
      tenant: emu.store.findTenant(CONTOSO)!.id,
      appId: out.application.appId,
      keyId: held.credential.keyId,
    });
    expect(secret.properties.expiresOn?.toISOString().slice(0, 16)).toBe(
      app.passwordCredentials[0].endDateTime.slice(0, 16),
    );
    await expectNoopRerun(emu, runs, a);
    // verify reads the same record through the sink: --secret-file takes the vault URI too.
    const v = await runs.run(
      verifyArgs(
        {
          endpoints: emu.endpointsFile,
          tenant: CONTOSO,
          clientId: out.application.appId,
          secretFile: 'keyvault://contoso-vault/e2e-vault-sender',
          mailbox: SCANNER,
          wait: '1m',
        },
        '--output',
        'json',
      ),
    );
    expect(v.code, v.stderr).toBe(0);
    expect(v.json<Record<string, any>>().verification.status).toBe('passed');
    await expectNoLeaks(emu, runs.outputs, [held.credential.secret]);
  });

  it('a vault without a role for the operator: exit 2 before any write, naming --secret-out and the role', async () => {
    await emu.control.clearLog();
    const r = await runs.run(args('E2E Locked Sender', 'keyvault://contoso-locked/e2e-locked-sender'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--secret-out keyvault://contoso-locked/e2e-locked-sender');
    expect(r.stderr).toContain('Key Vault Secrets Officer');
    const out = r.json<Record<string, any>>();
    expect(out.error).toMatchObject({ code: 'bad-input', field: '--secret-out' });
    const log = await emu.control.log();
    expect(log.some((e) => e.service === 'keyvault' && e.status === 403)).toBe(true);
    expect(log.filter((e) => e.write && (e.service === 'graph' || e.service === 'exchange'))).toEqual([]);
    expect(
      appsBesidesOperator(emu, await emu.control.tenant(CONTOSO)).filter(
        (x: { displayName: string }) => x.displayName === 'E2E Locked Sender',
      ),
    ).toEqual([]);
  });
});
