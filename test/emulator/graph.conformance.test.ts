/**
 * Conformance of the emulated Graph's bodies with Microsoft's type model (graph-v1-types.json): every entity and
 * complex value carries exactly the declared structural properties (no property the type lacks, none of the declared
 * ones missing) and `@odata.context`; every error body has the documented shape. The check itself is shown to fail on
 * bodies that break those rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  CONTOSO,
  EXCHANGE_APP_ID,
  GraphRecorder,
  conformanceProblems,
  loadTypeModel,
  operatorToken,
  sharedReference,
  testCertificate,
} from '../helpers/graph.js';

const BOOKKEEPING = ['homeTenantId', 'secrets', 'meta', 'firstParty', 'directoryRoles', 'createdAtMs', 'hash'];

function keysDeep(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => keysDeep(v, into));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      keysDeep(v, into);
    }
  return into;
}

describe('Graph emulator conformance with the v1.0 type model', () => {
  let emu: TestEmulator;
  let rec: GraphRecorder;
  let op: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    rec = new GraphRecorder(emu);
    op = operatorToken(emu, CONTOSO);
  });
  afterAll(async () => emu.close());

  it('ships the shared reference model verbatim, extended only by types of the same metadata commit', () => {
    const shared = sharedReference();
    if (!shared) return; // outside the workspace the copy in the repository is the reference
    const shipped = loadTypeModel() as { source: string; types: Record<string, unknown> } & Record<string, unknown>;
    const reference = shared as typeof shipped;
    for (const [name, t] of Object.entries(reference.types)) expect(shipped.types[name], name).toEqual(t);
    for (const key of Object.keys(reference))
      if (key !== 'types' && key !== 'source') expect(shipped[key]).toEqual(reference[key]);
    // The same metadata file and commit, with organization and domain (and what they reach) added.
    expect(shipped.source.startsWith(reference.source)).toBe(true);
    expect(Object.keys(shipped.types)).toEqual(expect.arrayContaining(['organization', 'domain', 'verifiedDomain']));
  });

  describe('the check fails on non-conforming bodies', () => {
    const entity = (extra: Record<string, unknown>): Record<string, unknown> => {
      const app = emu.store.world.applications[0]!;
      return { '@odata.context': 'https://x/v1.0/$metadata#applications/$entity', ...app.entity, ...extra };
    };
    let good: Record<string, unknown>;
    beforeAll(async () => {
      good = (await rec.call('GET', `/applications(uniqueName='sendasapp-operator')`, { token: op })).body;
    });

    it('accepts a real answer', () => {
      expect(conformanceProblems({ status: 200, body: good, url: 'x' })).toEqual([]);
    });
    it('flags a property the type lacks (emulator bookkeeping leaking)', () => {
      const problems = conformanceProblems({ status: 200, body: { ...good, homeTenantId: 'x' }, url: 'x' });
      expect(problems.join('\n')).toMatch(/'homeTenantId' is not declared on application/);
    });
    it('flags a missing declared property, also inside a complex value', () => {
      const web = { ...(good.web as Record<string, unknown>) };
      delete web.redirectUris;
      const { appId: _appId, ...withoutAppId } = good;
      expect(conformanceProblems({ status: 200, body: withoutAppId, url: 'x' }).join('\n')).toMatch(
        /'appId' of application is missing/,
      );
      expect(conformanceProblems({ status: 200, body: { ...good, web }, url: 'x' }).join('\n')).toMatch(
        /'redirectUris' of webApplication is missing/,
      );
    });
    it('flags a missing @odata.context and a wrongly typed value', () => {
      const { '@odata.context': _c, ...noContext } = good;
      expect(conformanceProblems({ status: 200, body: noContext, url: 'x' })).not.toEqual([]);
      expect(conformanceProblems({ status: 200, body: { ...good, tags: 'a' }, url: 'x' })).not.toEqual([]);
    });
    it('flags a stored entity served as stored (the seeded operator app lacks most declared properties)', () => {
      expect(conformanceProblems({ status: 200, body: entity({}), url: 'x' })).not.toEqual([]);
    });
    it('flags error bodies without code, message or innerError ids', () => {
      expect(conformanceProblems({ status: 400, body: { error: { code: 'x' } }, url: 'x' })).not.toEqual([]);
      expect(
        conformanceProblems({ status: 400, body: { error: { code: 'x', message: 'y' }, extra: 1 }, url: 'x' }),
      ).not.toEqual([]);
      expect(
        conformanceProblems({
          status: 404,
          body: {
            error: {
              code: 'x',
              message: 'y',
              innerError: { date: '2020-01-01T00:00:00.000Z', 'request-id': 'a', 'client-request-id': 'b' },
            },
          },
          url: 'x',
        }).join('\n'),
      ).toMatch(/not Graph's format/);
    });
  });

  it('walks every kind of answer (entities, collections, $select, credentials, grants, batch, errors) without a problem', async () => {
    const exo = (await rec.call('GET', `/servicePrincipals(appId='${EXCHANGE_APP_ID}')`, { token: op })).body;
    const role = exo.appRoles.find((r: { value: string }) => r.value === 'SMTP.SendAsApp');
    const app = (
      await rec.call('POST', '/applications', {
        token: op,
        json: {
          displayName: 'conformance',
          uniqueName: 'conformance',
          signInAudience: 'AzureADMultipleOrgs',
          requiredResourceAccess: [{ resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: role.id, type: 'Role' }] }],
          web: { redirectUris: ['https://localhost/cb'] },
          api: { requestedAccessTokenVersion: 2 },
          appRoles: [
            {
              id: 'f1c6bd6c-0d5e-4fcb-9a4b-9a8c5d6a8e01',
              value: 'Things.Read',
              displayName: 'Read things',
              description: 'Read things',
              allowedMemberTypes: ['Application'],
              isEnabled: true,
            },
          ],
          tags: ['sendasapp'],
        },
      })
    ).body;
    await rec.call('POST', `/applications/${app.id}/addPassword`, {
      token: op,
      json: { passwordCredential: { displayName: 'p' } },
    });
    await rec.call('PATCH', `/applications/${app.id}`, {
      token: op,
      json: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: testCertificate().key }] },
    });
    const sp = (await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } })).body;
    const grant = (
      await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: sp.id, resourceId: exo.id, appRoleId: role.id },
      })
    ).body;
    await rec.call('GET', `/applications/${app.id}`, { token: op });
    await rec.call('GET', `/applications/${app.id}?$select=id,keyCredentials,passwordCredentials`, { token: op });
    await rec.call('GET', '/applications', { token: op });
    await rec.call('GET', `/applications?$filter=uniqueName eq 'conformance'&$select=id,uniqueName`, { token: op });
    await rec.call('GET', '/servicePrincipals', { token: op });
    await rec.call('GET', `/servicePrincipals/${sp.id}`, { token: op });
    await rec.call('GET', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, { token: op });
    await rec.call('GET', `/servicePrincipals/${exo.id}/appRoleAssignedTo/${grant.id}`, { token: op });
    await rec.call('GET', `/servicePrincipals/${sp.id}/appRoleAssignments`, { token: op });
    await rec.call('POST', '/$batch', {
      token: op,
      json: {
        requests: [
          { id: '1', method: 'GET', url: `/applications/${app.id}` },
          { id: '2', method: 'GET', url: `/servicePrincipals/${sp.id}?$select=id,appRoles` },
          {
            id: '3',
            method: 'POST',
            url: '/servicePrincipals',
            headers: { 'Content-Type': 'application/json' },
            body: { appId: app.appId },
          },
          { id: '4', method: 'GET', url: '/nowhere' },
        ],
      },
    });
    // Errors of every family.
    await rec.call('GET', '/applications');
    await rec.call('GET', `/applications/${app.id}`, { token: emu.mintAppToken(CONTOSO, app.appId, 'graph') });
    await rec.call('GET', '/applications/nope', { token: op });
    await rec.call('GET', '/applications/00000000-0000-0000-0000-000000000009', { token: op });
    await rec.call('POST', '/applications', { token: op, body: '{', headers: { 'Content-Type': 'application/json' } });
    await rec.call('POST', '/applications', { token: op, json: { displayName: 'x', nope: 1 } });
    await rec.call('POST', '/applications', { token: op, json: { displayName: [] } });
    await rec.call('GET', "/applications?$filter=notes eq 'x'", { token: op });
    await rec.call('POST', '/servicePrincipals', {
      token: op,
      json: { appId: '33333333-3333-3333-3333-333333333333' },
    });
    await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
      token: op,
      json: { principalId: sp.id, resourceId: exo.id, appRoleId: role.id },
    });

    const problems = rec.responses.flatMap((r) => conformanceProblems(r));
    expect(problems).toEqual([]);
    const kinds = new Set(rec.responses.map((r) => String(r.body?.['@odata.context'] ?? '').replace(/^.*#/, '')));
    for (const k of [
      'applications/$entity',
      'applications',
      'microsoft.graph.passwordCredential',
      'servicePrincipals/$entity',
      'servicePrincipals',
      `servicePrincipals('${exo.id}')/appRoleAssignedTo`,
      `servicePrincipals('${exo.id}')/appRoleAssignedTo/$entity`,
    ])
      expect(kinds, k).toContain(k);
    const keys = keysDeep(rec.responses.map((r) => r.body));
    for (const k of BOOKKEEPING) expect(keys.has(k), `'${k}' leaked into a Graph body`).toBe(false);
    expect(rec.responses.filter((r) => r.status >= 400).length).toBeGreaterThanOrEqual(9);
  });

  it('serves organization and domains with the documented property names only', async () => {
    const orgReader = emu.store.findTenant(CONTOSO)!;
    // Organization.Read.All and Domain.Read.All for the operator, granted the Graph way.
    const graph = (
      await rec.call('GET', `/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')`, { token: op })
    ).body;
    const opSp = orgReader.servicePrincipals.find((s) => s.entity.appId === emu.endpoints.operator.clientId)!;
    for (const value of ['Organization.Read.All', 'Domain.Read.All']) {
      const role = graph.appRoles.find((r: { value: string }) => r.value === value);
      await rec.call('POST', `/servicePrincipals/${graph.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: opSp.entity.id, resourceId: graph.id, appRoleId: role.id },
      });
    }
    const token = operatorToken(emu, CONTOSO);
    // The expectation comes from Microsoft's type model (graph-v1-types.json), not from the emulator's own list.
    const model = loadTypeModel() as {
      types: Record<string, { baseType?: string; properties?: Record<string, unknown> }>;
    };
    const declared = (name: string): string[] => {
      const t = model.types[name]!;
      return [...(t.baseType ? declared(t.baseType) : []), ...Object.keys(t.properties ?? {})];
    };
    const org = await rec.call('GET', '/organization', { token });
    expect(Object.keys(org.body.value[0]).sort()).toEqual(declared('organization').sort());
    expect(conformanceProblems(org)).toEqual([]);
    expect(declared('organization')).toContain('mobileDeviceManagementAuthority');
    expect(declared('organization')).not.toContain('isMultipleDataLocationsForServicesEnabled');
    const domain = await rec.call('GET', `/domains/${CONTOSO}`, { token });
    expect(domain.body['@odata.context']).toMatch(/#domains\/\$entity$/);
    expect(
      Object.keys(domain.body)
        .filter((k) => !k.startsWith('@odata.'))
        .sort(),
    ).toEqual(declared('domain').sort());
    expect(conformanceProblems(domain)).toEqual([]);
    const picked = await rec.call('GET', '/organization?$select=id,verifiedDomains', { token });
    expect(Object.keys(picked.body.value[0]).sort()).toEqual(['id', 'verifiedDomains']);
  });
});
