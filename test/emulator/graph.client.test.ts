/**
 * The vendor guides' Entra steps, made with the real @microsoft/microsoft-graph-client against the emulated Graph:
 * resolve SMTP.SendAsApp from the Exchange service principal, create the app, upsert by uniqueName, add a secret,
 * create the service principal, grant the app role (and see the duplicate error), remove the secret, set a
 * certificate. Every answer the client receives is then checked against Microsoft's type model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, GraphError, ResponseType } from '@microsoft/microsoft-graph-client';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  EXCHANGE_APP_ID,
  type RecordedResponse,
  conformanceProblems,
  graphClient,
  operatorToken,
  recordGlobalFetch,
  testCertificate,
} from '../helpers/graph.js';
import { sha256Hex } from '../../src/emulator/state.js';

interface AppRole {
  id: string;
  value: string;
}

describe('Graph emulator with the real Microsoft Graph client', () => {
  let emu: TestEmulator;
  let client: Client;
  const recorded: RecordedResponse[] = [];
  let restoreFetch: () => void;

  beforeAll(async () => {
    emu = await startTestEmulator();
    client = graphClient(emu, operatorToken(emu));
    restoreFetch = recordGlobalFetch(recorded);
  });
  afterAll(async () => {
    restoreFetch();
    await emu.close();
  });

  let smtpRole: AppRole;
  let exchangeSpId: string;
  let app: { id: string; appId: string };
  let secretKeyId: string;
  let clientSpId: string;

  it('reads the SMTP.SendAsApp role id from the Exchange service principal by its appId alternate key', async () => {
    const sp = await client.api(`/servicePrincipals(appId='${EXCHANGE_APP_ID}')`).select('id,appRoles').get();
    expect(sp['@odata.context']).toMatch(/\/v1\.0\/\$metadata#servicePrincipals\(id,appRoles\)\/\$entity$/);
    expect(Object.keys(sp).sort()).toEqual(['@odata.context', 'appRoles', 'id']);
    smtpRole = (sp.appRoles as AppRole[]).find((r) => r.value === 'SMTP.SendAsApp')!;
    expect(smtpRole.id).toBe('7146a1f0-8703-45b3-9eae-527a64c00995');
    exchangeSpId = sp.id;
  });

  it('creates a multi-tenant application requiring SMTP.SendAsApp (201 with Graph property names)', async () => {
    const created = await client.api('/applications').post({
      displayName: 'Acme SMTP',
      signInAudience: 'AzureADMultipleOrgs',
      requiredResourceAccess: [{ resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: smtpRole.id, type: 'Role' }] }],
    });
    expect(created['@odata.context']).toMatch(/#applications\/\$entity$/);
    expect(created.displayName).toBe('Acme SMTP');
    expect(created.signInAudience).toBe('AzureADMultipleOrgs');
    expect(created.requiredResourceAccess).toEqual([
      { resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: smtpRole.id, type: 'Role' }] },
    ]);
    expect(created.passwordCredentials).toEqual([]);
    expect(created.uniqueName).toBeNull();
    app = { id: created.id, appId: created.appId };
  });

  it('upserts by uniqueName with Prefer: create-if-missing: 201 with the object, then 204 without a body', async () => {
    const first: Response = await client
      .api(`/applications(uniqueName='acme-smtp-upsert')`)
      .header('Prefer', 'create-if-missing')
      .responseType(ResponseType.RAW)
      .patch({ displayName: 'Acme SMTP (upsert)', signInAudience: 'AzureADMultipleOrgs' });
    expect(first.status).toBe(201);
    const body = (await first.json()) as { id: string; uniqueName: string; displayName: string };
    expect(body.uniqueName).toBe('acme-smtp-upsert');
    expect(body.displayName).toBe('Acme SMTP (upsert)');

    const second: Response = await client
      .api(`/applications(uniqueName='acme-smtp-upsert')`)
      .header('Prefer', 'create-if-missing')
      .responseType(ResponseType.RAW)
      .patch({ displayName: 'Acme SMTP (renamed)' });
    expect(second.status).toBe(204);
    expect(await second.text()).toBe('');

    const read = await client.api(`/applications(uniqueName='acme-smtp-upsert')`).get();
    expect(read.id).toBe(body.id);
    expect(read.displayName).toBe('Acme SMTP (renamed)');
  });

  it('adds a password: secretText returned once (40 chars, hint = first 3), stored only as sha256', async () => {
    const cred = await client
      .api(`/applications/${app.id}/addPassword`)
      .post({ passwordCredential: { displayName: 'smtp relay' } });
    expect(cred['@odata.context']).toMatch(/#microsoft\.graph\.passwordCredential$/);
    expect(cred.secretText).toMatch(/^[A-Za-z0-9]{3}\dQ~[A-Za-z0-9._~-]{34}$/);
    expect(cred.hint).toBe(cred.secretText.slice(0, 3));
    expect(cred.displayName).toBe('smtp relay');
    const years = (Date.parse(cred.endDateTime) - Date.parse(cred.startDateTime)) / (365.25 * 86_400_000);
    expect(years).toBeCloseTo(2, 1);
    secretKeyId = cred.keyId;

    const stored = emu.store.world.applications.find((a) => a.entity.id === app.id)!;
    expect(stored.secrets.find((s) => s.keyId === secretKeyId)?.hash).toBe(sha256Hex(cred.secretText));
    expect(JSON.stringify(stored)).not.toContain(cred.secretText);

    const read = await client.api(`/applications/${app.id}`).get();
    expect(read.passwordCredentials).toHaveLength(1);
    expect(read.passwordCredentials[0].secretText).toBeNull();
    expect(read.passwordCredentials[0].hint).toBe(cred.hint);
  });

  it('creates the service principal with the app roles and owner organization of its application', async () => {
    const sp = await client.api('/servicePrincipals').post({ appId: app.appId });
    expect(sp['@odata.context']).toMatch(/#servicePrincipals\/\$entity$/);
    expect(sp.appId).toBe(app.appId);
    expect(sp.appOwnerOrganizationId).toBe(emu.endpoints.tenants[0]!.id);
    expect(sp.servicePrincipalNames).toContain(app.appId);
    expect(sp.displayName).toBe('Acme SMTP');
    clientSpId = sp.id;
  });

  it('grants SMTP.SendAsApp through appRoleAssignedTo, and a second grant is the duplicate error', async () => {
    const grant = await client.api(`/servicePrincipals/${exchangeSpId}/appRoleAssignedTo`).post({
      principalId: clientSpId,
      resourceId: exchangeSpId,
      appRoleId: smtpRole.id,
    });
    expect(grant.principalId).toBe(clientSpId);
    expect(grant.resourceId).toBe(exchangeSpId);
    expect(grant.appRoleId).toBe(smtpRole.id);
    expect(grant.principalType).toBe('ServicePrincipal');
    expect(grant.resourceDisplayName).toBe('Office 365 Exchange Online');

    const err = await client
      .api(`/servicePrincipals/${exchangeSpId}/appRoleAssignedTo`)
      .post({ principalId: clientSpId, resourceId: exchangeSpId, appRoleId: smtpRole.id })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(GraphError);
    expect((err as GraphError).statusCode).toBe(400);
    expect((err as GraphError).code).toBe('Request_BadRequest');
    expect((err as GraphError).message).toBe('Permission being assigned already exists on the object.');

    const list = await client.api(`/servicePrincipals/${exchangeSpId}/appRoleAssignedTo`).get();
    expect(list.value.filter((a: { principalId: string }) => a.principalId === clientSpId)).toHaveLength(1);
    // The token service would now put the role into the app's Exchange token.
    const tenant = emu.store.findTenant('contoso.onmicrosoft.com')!;
    expect(emu.store.rolesFor(tenant, app.appId, EXCHANGE_APP_ID)).toEqual(['SMTP.SendAsApp']);
  });

  it('removes the password by the appId alternate key (204), and the stored hash goes with it', async () => {
    const res: Response = await client
      .api(`/applications(appId='${app.appId}')/removePassword`)
      .responseType(ResponseType.RAW)
      .post({ keyId: secretKeyId });
    expect(res.status).toBe(204);
    const stored = emu.store.world.applications.find((a) => a.entity.id === app.id)!;
    expect(stored.secrets).toEqual([]);
    expect(stored.entity.passwordCredentials).toEqual([]);
  });

  it('sets a certificate by PATCHing keyCredentials: keyId, thumbprint, CN and validity filled, key not echoed', async () => {
    const cert = testCertificate('acme-smtp');
    const res: Response = await client
      .api(`/applications/${app.id}`)
      .responseType(ResponseType.RAW)
      .patch({ keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: cert.key }] });
    expect(res.status).toBe(204);
    const read = await client.api(`/applications/${app.id}`).get();
    expect(read.keyCredentials).toHaveLength(1);
    const k = read.keyCredentials[0];
    expect(k.customKeyIdentifier).toBe(cert.thumbprint);
    expect(k.displayName).toBe('CN=acme-smtp');
    expect(k.key).toBeNull();
    expect(k.type).toBe('AsymmetricX509Cert');
    expect(k.usage).toBe('Verify');
    expect(Date.parse(k.endDateTime) - Date.parse(k.startDateTime)).toBeGreaterThan(360 * 86_400_000);
    const selected = await client.api(`/applications/${app.id}`).select('keyCredentials').get();
    expect(selected.keyCredentials[0].key).toBe(cert.key);

    // Appending the way Graph's snippets do: resend what was read (key null) plus the new certificate.
    const second = testCertificate('acme-smtp-2');
    await client.api(`/applications/${app.id}`).patch({
      keyCredentials: [...read.keyCredentials, { type: 'AsymmetricX509Cert', usage: 'Verify', key: second.key }],
    });
    const after = await client.api(`/applications/${app.id}`).get();
    expect(after.keyCredentials.map((c: { displayName: string }) => c.displayName).sort()).toEqual([
      'CN=acme-smtp',
      'CN=acme-smtp-2',
    ]);
  });

  it('lists with $filter appId eq and pages with $top and @odata.nextLink', async () => {
    const byAppId = await client.api('/applications').filter(`appId eq '${app.appId}'`).get();
    expect(byAppId.value.map((a: { id: string }) => a.id)).toEqual([app.id]);
    const page1 = await client.api('/applications').top(1).get();
    expect(page1.value).toHaveLength(1);
    expect(page1['@odata.nextLink']).toMatch(/\$skiptoken=/);
    const page2 = await client.api(page1['@odata.nextLink']).get();
    expect(page2.value).toHaveLength(1);
    expect(page2.value[0].id).not.toBe(page1.value[0].id);
  });

  it('every answer the Graph client received conforms to the type model and the error shape', () => {
    expect(recorded.length).toBeGreaterThan(10);
    const problems = recorded.flatMap((r) => conformanceProblems(r));
    expect(problems).toEqual([]);
  });
});
