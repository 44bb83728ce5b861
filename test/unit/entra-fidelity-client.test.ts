/**
 * The product's Entra resources against the emulator's Entra (m365-facts §8): removePassword of a keyId that is gone
 * (or not replicated yet) and the admin-consent URL, which always carries a redirect_uri the app has registered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { credentialOptions } from '../helpers/azure.js';
import { loadEndpointsFile } from '../../src/auth/index.js';
import {
  DEFAULT_CONSENT_REDIRECT_URI,
  GraphApi,
  addSecret,
  adminConsentUrl,
  removeSecret,
} from '../../src/entra/index.js';

describe('Entra resources against the emulator', () => {
  let emu: TestEmulator;
  let graph: GraphApi;

  async function newApp(web?: { redirectUris: string[] }): Promise<{ id: string; appId: string }> {
    const res = await graph.request<{ id: string; appId: string }>('POST', '/applications', {
      displayName: 'Fidelity app',
      signInAudience: 'AzureADMultipleOrgs',
      ...(web ? { web } : {}),
    });
    return res.body!;
  }

  async function keyIds(appObjectId: string): Promise<string[]> {
    const r = await graph.get<{ passwordCredentials: Array<{ keyId: string }> }>(
      `/applications/${appObjectId}?$select=passwordCredentials`,
    );
    return r.body!.passwordCredentials.map((p) => p.keyId);
  }

  beforeAll(async () => {
    emu = await startTestEmulator();
    const op = emu.endpoints.operator;
    graph = new GraphApi({
      credential: new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, credentialOptions(emu)),
      profile: loadEndpointsFile(emu.endpointsFile),
      tenant: op.tenantId,
      dispatcher: emu.dispatcher,
      retryDeadlineMs: 20_000,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 100))),
    });
  });
  afterAll(async () => emu.close());

  it('removeSecret: a keyId that is already gone counts as removed (after a re-read), a second call too', async () => {
    const app = await newApp();
    const s = await addSecret(graph, app.id, 'sendasapp test', new Date(Date.now() + 86_400_000));
    await removeSecret(graph, app.id, s.keyId);
    expect(await keyIds(app.id)).not.toContain(s.keyId);
    await emu.control.clearLog();
    await expect(removeSecret(graph, app.id, s.keyId)).resolves.toBeUndefined();
    const log = await emu.control.log({ service: 'graph' });
    expect(log.map((e) => [e.method, e.status])).toEqual([
      ['POST', 400],
      ['GET', 200],
    ]);
  });

  it('removeSecret right after addPassword waits while the directory has not replicated the secret', async () => {
    const app = await newApp();
    await emu.control.setKnobs({ replicationDelayMs: 400 });
    try {
      const s = await addSecret(graph, app.id, 'sendasapp fresh', new Date(Date.now() + 86_400_000));
      await emu.control.clearLog();
      await removeSecret(graph, app.id, s.keyId);
      const removals = (await emu.control.log({ service: 'graph' })).filter((e) => e.path.endsWith('/removePassword'));
      expect(removals[0]!.status).toBe(400);
      expect(removals.at(-1)!.status).toBe(204);
      expect(await keyIds(app.id)).not.toContain(s.keyId);
    } finally {
      await emu.control.setKnobs({ replicationDelayMs: 0 });
    }
  });

  it("the consent URL carries redirect_uri; with the app's registered Web reply URL, consent succeeds and redirects there", async () => {
    const fabrikam = emu.store.findTenant('fabrikam.onmicrosoft.com')!.id;
    const plain = new URL(
      adminConsentUrl(emu.endpoints.authorityHost, fabrikam, '00000000-0000-0000-0000-000000000001'),
    );
    expect(plain.searchParams.get('redirect_uri')).toBe(DEFAULT_CONSENT_REDIRECT_URI);
    expect(plain.searchParams.get('scope')).toBe('https://outlook.office365.com/.default');

    const vendor = 'https://vendor.example.com/oauth/landing';
    const app = await newApp({ redirectUris: [vendor] });
    const url = adminConsentUrl(emu.endpoints.authorityHost, fabrikam, app.appId, vendor);
    const ok = await emu.request(url, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toMatch(/^https:\/\/vendor\.example\.com\/oauth\/landing\?admin_consent=True/);

    // The same URL for an app without a registered reply URL is refused (AADSTS500113).
    const bare = await newApp();
    const refused = await emu.request(adminConsentUrl(emu.endpoints.authorityHost, fabrikam, bare.appId), {
      redirect: 'manual',
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('AADSTS500113');
  });
});
