/**
 * Admin consent (`/{tenant}/adminconsent`, `/{tenant}/v2.0/adminconsent`) installing a multitenant app in a customer
 * tenant, its refusals, and replication delay keeping new service principals and secrets unknown for a while.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import { startWithTenantIds, type TestEmulator } from '../helpers/emulator.js';
import { EXCHANGE_SCOPE, addSecret, credentialOptions, decodeJwt, postForm, registerApp } from '../helpers/azure.js';
import { CONTOSO, FABRIKAM, SMTP_SEND_AS_APP } from '../helpers/e2e.js';
import { grantAdminConsent } from '../../src/emulator/token/index.js';
import { EXCHANGE_APP_ID, GRAPH_APP_ID } from '../../src/emulator/seed.js';

const MAIL_SEND = 'b633e1c5-b582-4048-a93e-9f11b44c7e96';
const REDIRECT = 'https://isv.example.com/consent/done';

interface Dumped {
  servicePrincipals: Array<Record<string, unknown> & { id: string; appId: string }>;
  appRoleAssignments: Array<{ principalId: string; resourceId: string; appRoleId: string }>;
}

describe('admin consent', () => {
  let emu: TestEmulator;
  let fabrikamId: string;
  let contosoId: string;
  beforeAll(async () => {
    ({ emu, contosoId, fabrikamId } = await startWithTenantIds());
  });
  afterAll(async () => emu.close());

  /** A multitenant ISV app in contoso asking for SMTP.SendAsApp (Exchange) and Mail.Send (Graph). */
  const isvApp = (options: Parameters<typeof registerApp>[1] = {}): ReturnType<typeof registerApp> =>
    registerApp(emu, {
      displayName: 'OAuth Email Sender',
      redirectUris: [REDIRECT],
      requiredResourceAccess: [
        { resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] },
        {
          resourceAppId: GRAPH_APP_ID,
          resourceAccess: [
            { id: MAIL_SEND, type: 'Role' },
            { id: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d', type: 'Scope' },
          ],
        },
      ],
      appRoles: [
        {
          id: 'f0f0f0f0-0000-4000-8000-000000000001',
          value: 'Mail.Relay',
          displayName: 'Relay',
          description: 'Relay mail',
          allowedMemberTypes: ['Application'],
          isEnabled: true,
        },
      ],
      ...options,
    });
  const consent = (path: string, params: Record<string, string>): Promise<Response> =>
    emu.request(`${path}?${new URLSearchParams(params)}`, { redirect: 'manual' });

  it('creates the service principal and the app role assignments in the customer tenant, then redirects back', async () => {
    const { appId } = isvApp();
    const res = await consent(`/${FABRIKAM}/v2.0/adminconsent`, {
      client_id: appId,
      redirect_uri: REDIRECT,
      scope: EXCHANGE_SCOPE,
      state: 'st-42',
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect([...location.searchParams.entries()]).toEqual([
      ['admin_consent', 'True'],
      ['tenant', fabrikamId],
      ['scope', EXCHANGE_SCOPE],
      ['state', 'st-42'],
    ]);

    const t: Dumped = await emu.control.tenant(FABRIKAM);
    const sp = t.servicePrincipals.find((s) => s.appId === appId)!;
    expect(sp).toMatchObject({
      appOwnerOrganizationId: contosoId,
      servicePrincipalNames: [appId],
      displayName: 'OAuth Email Sender',
      servicePrincipalType: 'Application',
      accountEnabled: true,
    });
    expect(sp.appRoles).toEqual([expect.objectContaining({ value: 'Mail.Relay', origin: 'Application' })]);
    const exo = t.servicePrincipals.find((s) => s.appId === EXCHANGE_APP_ID)!;
    const graph = t.servicePrincipals.find((s) => s.appId === GRAPH_APP_ID)!;
    const mine = t.appRoleAssignments.filter((a) => a.principalId === sp.id);
    expect(mine.map((a) => [a.resourceId, a.appRoleId]).sort()).toEqual(
      [
        [exo.id, SMTP_SEND_AS_APP],
        [graph.id, MAIL_SEND],
      ].sort(),
    );
    // Nothing in the home tenant changed.
    const home: Dumped = await emu.control.tenant(CONTOSO);
    expect(home.servicePrincipals.some((s) => s.appId === appId)).toBe(false);
  });

  it('lets the consented app get an Exchange token in the customer tenant carrying SMTP.SendAsApp', async () => {
    const { app, appId } = isvApp();
    const secret = addSecret(app);
    const cred = new ClientSecretCredential(FABRIKAM, appId, secret, credentialOptions(emu));
    await expect(cred.getToken(EXCHANGE_SCOPE)).rejects.toThrow(/AADSTS700016/);
    const res = await consent(`/${fabrikamId}/adminconsent`, { client_id: appId, redirect_uri: REDIRECT });
    expect(res.status).toBe(302);
    // v1 redirects without scope.
    expect(new URL(res.headers.get('location')!).searchParams.has('scope')).toBe(false);
    const claims = decodeJwt((await cred.getToken(EXCHANGE_SCOPE)).token);
    const sp = emu.store.servicePrincipalByAppId(emu.store.findTenant(FABRIKAM)!, appId)!;
    expect(claims).toMatchObject({ tid: fabrikamId, oid: sp.entity.id, roles: ['SMTP.SendAsApp'] });
  });

  it('does not repeat assignments that already exist when consent is given again', async () => {
    const { appId } = isvApp();
    const params = { client_id: appId, redirect_uri: REDIRECT };
    await consent(`/${FABRIKAM}/adminconsent`, params);
    const before: Dumped = await emu.control.tenant(FABRIKAM);
    await consent(`/${FABRIKAM}/adminconsent`, params);
    const after: Dumped = await emu.control.tenant(FABRIKAM);
    expect(after.servicePrincipals.filter((s) => s.appId === appId)).toHaveLength(1);
    expect(after.appRoleAssignments).toHaveLength(before.appRoleAssignments.length);
  });

  it('adds only the missing assignments when the app asks for more later (grantAdminConsent)', () => {
    const { app } = isvApp();
    const tenant = emu.store.findTenant(FABRIKAM)!;
    const first = grantAdminConsent(emu.store, tenant, app);
    expect(first.createdServicePrincipal).toBe(true);
    expect(first.addedAssignments).toHaveLength(2);
    app.entity.requiredResourceAccess[0]!.resourceAccess.push({
      id: 'dc50a0fb-09a3-484d-be87-e023b12c6440',
      type: 'Role',
    });
    const second = grantAdminConsent(emu.store, tenant, app);
    expect(second.createdServicePrincipal).toBe(false);
    expect(second.servicePrincipal.entity.id).toBe(first.servicePrincipal.entity.id);
    expect(second.addedAssignments.map((a) => a.entity.appRoleId)).toEqual(['dc50a0fb-09a3-484d-be87-e023b12c6440']);
  });

  it('redirects with access_denied and AADSTS65004 and creates nothing when the admin declines', async () => {
    const { appId } = isvApp();
    await emu.control.setKnobs({ consent: 'deny' });
    try {
      const res = await consent(`/${FABRIKAM}/v2.0/adminconsent`, {
        client_id: appId,
        redirect_uri: REDIRECT,
        scope: EXCHANGE_SCOPE,
        state: 's1',
      });
      expect(res.status).toBe(302);
      const q = new URL(res.headers.get('location')!).searchParams;
      expect(q.get('error')).toBe('access_denied');
      expect(q.get('error_subcode')).toBe('cancel');
      expect(q.get('error_description')).toMatch(/^AADSTS65004: /);
      expect(q.get('state')).toBe('s1');
      expect(q.has('admin_consent')).toBe(false);
      const t: Dumped = await emu.control.tenant(FABRIKAM);
      expect(t.servicePrincipals.some((s) => s.appId === appId)).toBe(false);
    } finally {
      await emu.control.setKnobs({ consent: 'approve' });
    }
  });

  it('shows an AADSTS50011 page for a redirect_uri the app did not register', async () => {
    const { appId } = isvApp();
    const res = await consent(`/${FABRIKAM}/v2.0/adminconsent`, {
      client_id: appId,
      redirect_uri: 'https://evil.example.com/steal',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain(
      `AADSTS50011: The redirect URI &#39;https://evil.example.com/steal&#39; specified in the request does not match the redirect URIs configured for the application &#39;${appId}&#39;`,
    );
    expect(emu.store.servicePrincipalByAppId(emu.store.findTenant(FABRIKAM)!, appId)).toBeUndefined();
  });

  it('refuses a single-tenant app in another tenant (AADSTS700016) but consents it at home', async () => {
    const { appId } = isvApp({ signInAudience: 'AzureADMyOrg' });
    const elsewhere = await consent(`/${FABRIKAM}/v2.0/adminconsent`, { client_id: appId, redirect_uri: REDIRECT });
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain(`AADSTS700016: Application with identifier &#39;${appId}&#39;`);
    const home = await consent(`/${CONTOSO}/v2.0/adminconsent`, { client_id: appId, redirect_uri: REDIRECT });
    expect(home.status).toBe(302);
  });

  it('answers AADSTS500113 (v1 and v2) for an app with no Web reply URL registered, and installs nothing', async () => {
    const { appId } = isvApp({ redirectUris: [] });
    const attempts: Array<[string, Record<string, string>]> = [
      [`/${fabrikamId}/adminconsent`, { client_id: appId }],
      [`/${fabrikamId}/adminconsent`, { client_id: appId, redirect_uri: REDIRECT }],
      [`/${FABRIKAM}/v2.0/adminconsent`, { client_id: appId, scope: EXCHANGE_SCOPE, redirect_uri: REDIRECT }],
    ];
    for (const [path, params] of attempts) {
      const res = await consent(path, params);
      expect(res.status, path).toBe(400);
      expect(await res.text()).toContain('AADSTS500113: No reply address is registered for the application.');
    }
    expect(emu.store.servicePrincipalByAppId(emu.store.findTenant(FABRIKAM)!, appId)).toBeUndefined();
  });

  it('requires redirect_uri on the v2 endpoint (AADSTS900144); v1 falls back to the registered reply URL', async () => {
    const { appId } = isvApp();
    const v2 = await consent(`/${FABRIKAM}/v2.0/adminconsent`, { client_id: appId, scope: EXCHANGE_SCOPE });
    expect(v2.status).toBe(400);
    expect(await v2.text()).toContain(
      'AADSTS900144: The request body must contain the following parameter: &#39;redirect_uri&#39;.',
    );
    expect(emu.store.servicePrincipalByAppId(emu.store.findTenant(FABRIKAM)!, appId)).toBeUndefined();
    const v1 = await consent(`/${fabrikamId}/adminconsent`, { client_id: appId });
    expect(v1.status).toBe(302);
    expect(v1.headers.get('location')).toMatch(new RegExp(`^${REDIRECT}\\?admin_consent=True&tenant=${fabrikamId}`));
  });

  it('redirects a v1 denial with access_denied and AADSTS65004 to the registered reply URL', async () => {
    const { appId } = isvApp();
    await emu.control.setKnobs({ consent: 'deny' });
    try {
      const res = await consent(`/${fabrikamId}/adminconsent`, { client_id: appId, state: 's1' });
      expect(res.status).toBe(302);
      const to = new URL(res.headers.get('location')!);
      expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
      expect(to.searchParams.get('error')).toBe('access_denied');
      expect(to.searchParams.get('error_description')).toMatch(/^AADSTS65004: User declined to consent/);
      expect(to.searchParams.get('state')).toBe('s1');
    } finally {
      await emu.control.setKnobs({ consent: 'approve' });
    }
  });

  it('resolves the organizations alias through the admin login_hint, and refuses it without one (AADSTS50059)', async () => {
    const { appId } = isvApp();
    const withHint = await consent('/organizations/v2.0/adminconsent', {
      client_id: appId,
      redirect_uri: REDIRECT,
      login_hint: 'admin@fabrikam.onmicrosoft.com',
    });
    expect(new URL(withHint.headers.get('location')!).searchParams.get('tenant')).toBe(fabrikamId);
    const without = await consent('/organizations/v2.0/adminconsent', { client_id: appId, redirect_uri: REDIRECT });
    expect(without.status).toBe(400);
    expect(await without.text()).toContain('AADSTS50059');
  });

  it('shows AADSTS90002 for an unknown tenant', async () => {
    const { appId } = isvApp();
    const res = await consent('/nosuch.onmicrosoft.com/v2.0/adminconsent', { client_id: appId });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('AADSTS90002');
  });

  describe('replication delay', () => {
    it('keeps a just-consented service principal unknown to the token endpoint until it replicates', async () => {
      const { app, appId } = isvApp();
      const secret = addSecret(app);
      await emu.control.setKnobs({ replicationDelayMs: 800 });
      try {
        const res = await consent(`/${FABRIKAM}/adminconsent`, { client_id: appId, redirect_uri: REDIRECT });
        expect(res.status).toBe(302);
        const cred = new ClientSecretCredential(FABRIKAM, appId, secret, credentialOptions(emu));
        await expect(cred.getToken(EXCHANGE_SCOPE)).rejects.toThrow(/AADSTS700016/);
        // The seeded operator replicated long ago and is unaffected.
        const op = emu.endpoints.operator;
        const operator = new ClientSecretCredential(FABRIKAM, op.clientId, op.clientSecret, credentialOptions(emu));
        await expect(operator.getToken(EXCHANGE_SCOPE)).resolves.toBeTruthy();
        await new Promise((r) => setTimeout(r, 900));
        expect(decodeJwt((await cred.getToken(EXCHANGE_SCOPE)).token).roles).toEqual(['SMTP.SendAsApp']);
      } finally {
        await emu.control.setKnobs({ replicationDelayMs: 0 });
      }
    });

    it('keeps a just-added secret unknown (AADSTS7000215) until it replicates', async () => {
      const { app, appId } = isvApp();
      // The service principal replicated long ago; only the secret is new.
      grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, app).servicePrincipal.meta.createdAtMs = 0;
      await emu.control.setKnobs({ replicationDelayMs: 800 });
      try {
        const fresh = addSecret(app, { createdAtMs: Date.now() });
        const form = {
          grant_type: 'client_credentials',
          client_id: appId,
          client_secret: fresh,
          scope: EXCHANGE_SCOPE,
        };
        const early = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/token`, form);
        expect(early.status).toBe(401);
        expect(early.body.error_codes).toEqual([7000215]);
        await new Promise((r) => setTimeout(r, 900));
        const later = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/token`, form);
        expect(later.status).toBe(200);
      } finally {
        await emu.control.setKnobs({ replicationDelayMs: 0 });
      }
    });
  });
});
