/**
 * Graph addressing as clients in the wild use it (m365-facts §8): `/v1.0/myorganization/…` and `/v1.0/{tenant}/…`
 * reach the same resources as `/v1.0/…`, and path segments and `$filter` property names match case-insensitively.
 * Through the real @microsoft/microsoft-graph-client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@microsoft/microsoft-graph-client';
import { startWithTenantIds, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, graphClient, operatorToken } from '../helpers/graph.js';

describe('Graph paths', () => {
  let emu: TestEmulator;
  let contosoId: string;
  let fabrikamId: string;
  let client: Client;
  let app: { id: string; appId: string };

  beforeAll(async () => {
    ({ emu, contosoId, fabrikamId } = await startWithTenantIds());
    client = graphClient(emu, () => operatorToken(emu, CONTOSO));
    app = await client.api('/applications').post({ displayName: 'Paths app', signInAudience: 'AzureADMyOrg' });
  });
  afterAll(async () => emu.close());

  it('serves /myorganization/…, /{tenant id}/… and /{domain}/… like /…', async () => {
    const plain = await client.api(`/applications/${app.id}`).get();
    for (const prefix of ['/myorganization', `/${contosoId}`, `/${CONTOSO}`, '/MyOrganization']) {
      const got = await client.api(`${prefix}/applications/${app.id}`).get();
      expect(got.id, prefix).toBe(plain.id);
      expect(got.appId).toBe(app.appId);
    }
    const sp = await client
      .api(`/myorganization/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')`)
      .get();
    expect(sp.displayName).toBe('Office 365 Exchange Online');
  });

  it('writes through a tenant segment too (addPassword under /myorganization)', async () => {
    const cred = await client
      .api(`/myorganization/applications/${app.id}/addPassword`)
      .post({ passwordCredential: {} });
    expect(cred.secretText).toEqual(expect.any(String));
    const after = await client.api(`/applications/${app.id}`).select('passwordCredentials').get();
    expect(after.passwordCredentials.map((p: { keyId: string }) => p.keyId)).toContain(cred.keyId);
  });

  it("does not take another tenant's id as the tenant segment", async () => {
    const err = await client
      .api(`/${fabrikamId}/applications/${app.id}`)
      .get()
      .catch((e: { statusCode?: number }) => e);
    expect((err as { statusCode?: number }).statusCode).toBeGreaterThanOrEqual(400);
  });

  it('matches path segments, alternate keys and $filter property names case-insensitively', async () => {
    const lower = await client.api(`/APPLICATIONS/${app.id}`).get();
    expect(lower.id).toBe(app.id);
    const alt = await client.api(`/Applications(AppId='${app.appId}')`).get();
    expect(alt.id).toBe(app.id);
    const filtered = await client.api('/applications').filter(`APPID eq '${app.appId}'`).get();
    expect(filtered.value.map((a: { id: string }) => a.id)).toEqual([app.id]);
    const nav = await client
      .api(`/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')/APPROLEASSIGNEDTO`)
      .get();
    expect(Array.isArray(nav.value)).toBe(true);
  });
});
