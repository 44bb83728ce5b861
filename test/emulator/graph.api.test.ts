/**
 * The emulated Graph v1.0 on the wire: status codes, bodies and error codes for applications, service principals,
 * app role assignments, organization and domains; permissions; tenant policy; replication delay; cross-tenant
 * visibility. Raw requests, so that exactly what goes over the wire is asserted. Every answer is finally checked
 * against Microsoft's type model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  CONTOSO,
  EXCHANGE_APP_ID,
  FABRIKAM,
  GraphRecorder,
  conformanceProblems,
  operatorToken,
  testCertificate,
  userToken,
} from '../helpers/graph.js';
import { GRAPH_APP_ID } from '../../src/emulator/seed.js';

const NOT_FOUND_MESSAGE =
  /^Resource '.+' does not exist or one of its queried reference-property objects are not present\.$/;

describe('Graph emulator: applications, service principals, grants, errors', () => {
  let emu: TestEmulator;
  let rec: GraphRecorder;
  let op: string;
  let opFabrikam: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    rec = new GraphRecorder(emu);
    op = operatorToken(emu, CONTOSO);
    opFabrikam = operatorToken(emu, FABRIKAM);
  });
  afterAll(async () => emu.close());

  async function createApp(body: Record<string, unknown>, token = op): Promise<{ id: string; appId: string }> {
    const r = await rec.call('POST', '/applications', { token, json: body });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id: r.body.id, appId: r.body.appId };
  }

  async function graphSp(token = op): Promise<{ id: string; appRoles: Array<{ id: string; value: string }> }> {
    const r = await rec.call('GET', `/servicePrincipals(appId='${GRAPH_APP_ID}')`, { token });
    return r.body;
  }

  /** A client app in contoso holding the given Graph application permissions, and a token for it. */
  async function clientWithRoles(
    name: string,
    roles: string[],
  ): Promise<{ appId: string; spId: string; token: () => string }> {
    const app = await createApp({ displayName: name, signInAudience: 'AzureADMyOrg' });
    const sp = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } });
    expect(sp.status).toBe(201);
    const graph = await graphSp();
    for (const value of roles) {
      const role = graph.appRoles.find((r) => r.value === value)!;
      const g = await rec.call('POST', `/servicePrincipals/${graph.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: sp.body.id, resourceId: graph.id, appRoleId: role.id },
      });
      expect(g.status, JSON.stringify(g.body)).toBe(201);
    }
    return { appId: app.appId, spId: sp.body.id, token: () => emu.mintAppToken(CONTOSO, app.appId, 'graph') };
  }

  describe('authentication and permissions', () => {
    it('answers 401 InvalidAuthenticationToken without a token, with a WWW-Authenticate challenge', async () => {
      const r = await rec.call('GET', '/applications');
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('InvalidAuthenticationToken');
      expect(r.body.error.message).toBe('Access token is empty.');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
    });

    it('answers 401 for a token issued for another resource (Exchange audience)', async () => {
      const exo = emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
      const r = await rec.call('GET', '/applications', { token: exo });
      expect(r.status).toBe(401);
      expect(r.body.error.message).toBe('Access token validation failure. Invalid audience.');
    });

    it('answers 403 Authorization_RequestDenied to an app token without Graph permissions, reads after Application.Read.All', async () => {
      const bare = await clientWithRoles('no-permissions', []);
      const denied = await rec.call('GET', '/applications', { token: bare.token() });
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatchObject({
        code: 'Authorization_RequestDenied',
        message: 'Insufficient privileges to complete the operation.',
      });
      const reader = await clientWithRoles('reader', ['Application.Read.All']);
      expect((await rec.call('GET', '/applications', { token: reader.token() })).status).toBe(200);
      const write = await rec.call('POST', '/applications', { token: reader.token(), json: { displayName: 'x' } });
      expect(write.status).toBe(403);
      const grant = await rec.call('POST', `/servicePrincipals/${reader.spId}/appRoleAssignments`, {
        token: reader.token(),
        json: { principalId: reader.spId, resourceId: reader.spId, appRoleId: '00000000-0000-0000-0000-000000000000' },
      });
      expect(grant.status).toBe(403);
    });

    it('limits Application.ReadWrite.OwnedBy to the applications the caller created', async () => {
      const owner = await clientWithRoles('owned-by', ['Application.ReadWrite.OwnedBy']);
      const mine = await createApp({ displayName: 'created by owned-by' }, owner.token());
      const list = await rec.call('GET', '/applications', { token: owner.token() });
      expect(list.status).toBe(200);
      expect(list.body.value.map((a: { id: string }) => a.id)).toEqual([mine.id]);
      const operatorApp = emu.store.world.applications.find((a) => a.entity.uniqueName === 'sendasapp-operator')!;
      expect((await rec.call('GET', `/applications/${operatorApp.entity.id}`, { token: owner.token() })).status).toBe(
        403,
      );
      const patchOther = await rec.call('PATCH', `/applications/${operatorApp.entity.id}`, {
        token: owner.token(),
        json: { notes: 'x' },
      });
      expect(patchOther.status).toBe(403);
      const patchMine = await rec.call('PATCH', `/applications/${mine.id}`, {
        token: owner.token(),
        json: { notes: 'ok' },
      });
      expect(patchMine.status).toBe(204);
    });

    it('lets a delegated Global Administrator create applications and refuses an ordinary user', async () => {
      const admin = userToken(emu, CONTOSO, 'admin@contoso.onmicrosoft.com', ['Application.ReadWrite.All']);
      const created = await rec.call('POST', '/applications', { token: admin, json: { displayName: 'by admin' } });
      expect(created.status).toBe(201);
      const user = userToken(emu, CONTOSO, 'scanner@contoso.onmicrosoft.com', ['User.Read']);
      const refused = await rec.call('POST', '/applications', { token: user, json: { displayName: 'by user' } });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('Authorization_RequestDenied');
    });

    it('logs the caller and tenant of each request', async () => {
      await emu.control.clearLog();
      await rec.call('GET', '/applications?$top=1', { token: op });
      const log = await emu.control.log({ service: 'graph' });
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({
        method: 'GET',
        path: '/v1.0/applications',
        status: 200,
        tenantId: emu.endpoints.tenants[0]!.id,
        caller: emu.endpoints.operator.clientId,
        write: false,
      });
    });
  });

  describe('applications', () => {
    it('upsert by uniqueName: 404 without Prefer, 400 without displayName on create, 201 then 204', async () => {
      const path = `/applications(uniqueName='upsert-404')`;
      const absent = await rec.call('PATCH', path, { token: op, json: { displayName: 'x' } });
      expect(absent.status).toBe(404);
      expect(absent.body.error.code).toBe('Request_ResourceNotFound');
      expect(absent.body.error.message).toMatch(NOT_FOUND_MESSAGE);
      const noName = await rec.call('PATCH', path, {
        token: op,
        json: { notes: 'no name' },
        headers: { Prefer: 'create-if-missing' },
      });
      expect(noName.status).toBe(400);
      const created = await rec.call('PATCH', path, {
        token: op,
        json: { displayName: 'upsert' },
        headers: { Prefer: 'create-if-missing' },
      });
      expect(created.status).toBe(201);
      expect(created.body.uniqueName).toBe('upsert-404');
      const updated = await rec.call('PATCH', path, {
        token: op,
        json: { displayName: 'upsert 2' },
        headers: { Prefer: 'create-if-missing' },
      });
      expect(updated.status).toBe(204);
      expect(updated.body).toBeUndefined();
      const withoutPrefer = await rec.call('PATCH', path, { token: op, json: { notes: 'n' } });
      expect(withoutPrefer.status).toBe(204);
      const all = emu.store.world.applications.filter((a) => a.entity.uniqueName === 'upsert-404');
      expect(all).toHaveLength(1);
    });

    it('uniqueName can be set once, is immutable afterwards, and unique in the tenant (409)', async () => {
      const app = await createApp({ displayName: 'late unique name' });
      expect(
        (await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { uniqueName: 'late-1' } })).status,
      ).toBe(204);
      const same = await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { uniqueName: 'late-1' } });
      expect(same.status).toBe(204);
      const change = await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { uniqueName: 'late-2' } });
      expect(change.status).toBe(400);
      expect(change.body.error.code).toBe('Request_BadRequest');
      const dup = await rec.call('POST', '/applications', {
        token: op,
        json: { displayName: 'dup', uniqueName: 'late-1' },
      });
      expect(dup.status).toBe(409);
      expect(dup.body.error.code).toBe('Request_MultipleObjectsWithSameKeyValue');
      const get = await rec.call('GET', `/applications(uniqueName='late-1')`, { token: op });
      expect(get.body.id).toBe(app.id);
      const del = await rec.call('DELETE', `/applications(uniqueName='late-1')`, { token: op });
      expect(del.status).toBe(204);
      expect((await rec.call('GET', `/applications/${app.id}`, { token: op })).status).toBe(404);
    });

    it('filters on appId, displayName and uniqueName eq; other properties and operators are unsupported queries', async () => {
      const app = await createApp({ displayName: "O'Brien filter", uniqueName: 'filter-me' });
      const byName = await rec.call('GET', `/applications?$filter=displayName eq 'O''Brien filter'`, { token: op });
      expect(byName.body.value.map((a: { id: string }) => a.id)).toEqual([app.id]);
      const byUnique = await rec.call('GET', `/applications?$filter=uniqueName eq 'FILTER-ME'`, { token: op });
      expect(byUnique.body.value).toHaveLength(1);
      const byAppId = await rec.call('GET', `/applications?$filter=appId eq '${app.appId}'&$select=id,appId`, {
        token: op,
      });
      expect(byAppId.body.value).toEqual([{ id: app.id, appId: app.appId }]);
      expect(byAppId.body['@odata.context']).toMatch(/#applications\(id,appId\)$/);

      const notes = await rec.call('GET', `/applications?$filter=notes eq 'x'`, { token: op });
      expect(notes.status).toBe(400);
      expect(notes.body.error).toMatchObject({
        code: 'Request_UnsupportedQuery',
        message: "Unsupported or invalid query filter clause specified for property 'notes' of resource 'Application'.",
      });
      const ne = await rec.call('GET', `/applications?$filter=displayName ne 'x'`, { token: op });
      expect(ne.body.error).toMatchObject({
        code: 'Request_UnsupportedQuery',
        message: "Unsupported property filter clause operator 'NotEqualsMatch'.",
      });
      const syntax = await rec.call('GET', `/applications?$filter=displayName eq`, { token: op });
      expect(syntax.status).toBe(400);
      expect(syntax.body.error.code).toBe('BadRequest');
      const select = await rec.call('GET', `/applications?$select=nope`, { token: op });
      expect(select.status).toBe(400);
      const top = await rec.call('GET', `/applications?$top=0`, { token: op });
      expect(top.status).toBe(400);
      const count = await rec.call('GET', `/applications?$count=true`, { token: op });
      expect(count.body.error.message).toBe('$count is not currently supported.');
      const counted = await rec.call('GET', `/applications?$count=true&$filter=uniqueName eq 'filter-me'`, {
        token: op,
        headers: { ConsistencyLevel: 'eventual' },
      });
      expect(counted.body['@odata.count']).toBe(1);
    });

    it('pages a tenant of many applications with $top and @odata.nextLink, keeping the $filter', async () => {
      for (let i = 0; i < 7; i++) await createApp({ displayName: `paged app` });
      const seen: string[] = [];
      let next: string | undefined = "/applications?$top=3&$filter=displayName eq 'paged app'";
      while (next) {
        const r = await rec.call('GET', next, { token: op });
        expect(r.status).toBe(200);
        seen.push(...r.body.value.map((a: { id: string }) => a.id));
        next = r.body['@odata.nextLink']?.replace(emu.endpoints.graphBaseUrl, '');
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
    });

    it('answers 400 for a malformed id and 404 Request_ResourceNotFound for an unknown one', async () => {
      const bad = await rec.call('GET', '/applications/not-a-guid', { token: op });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: "Invalid object identifier 'not-a-guid'.",
      });
      const missing = await rec.call('GET', '/applications/00000000-0000-0000-0000-000000000001', { token: op });
      expect(missing.status).toBe(404);
      expect(missing.body.error.message).toBe(
        "Resource '00000000-0000-0000-0000-000000000001' does not exist or one of its queried reference-property objects are not present.",
      );
      const segment = await rec.call('GET', '/applicationz', { token: op });
      expect(segment.status).toBe(400);
      expect(segment.body.error.message).toBe("Resource not found for the segment 'applicationz'.");
      const method = await rec.call('PUT', '/applications', { token: op, json: {} });
      expect(method.status).toBe(405);
    });

    it('refuses malformed JSON, unknown properties and wrongly typed values with Graph’s errors', async () => {
      const malformed = await rec.call('POST', '/applications', {
        token: op,
        body: '{"displayName": ',
        headers: { 'Content-Type': 'application/json' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toMatchObject({
        code: 'BadRequest',
        message:
          'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
      });
      const unknown = await rec.call('POST', '/applications', { token: op, json: { displayName: 'x', colour: 'red' } });
      expect(unknown.body.error).toMatchObject({ code: 'Request_BadRequest', message: "Invalid property 'colour'." });
      const typed = await rec.call('POST', '/applications', { token: op, json: { displayName: 5 } });
      expect(typed.status).toBe(400);
      expect(typed.body.error.message).toBe('Property displayName in payload has a value that does not match schema.');
      const nested = await rec.call('POST', '/applications', {
        token: op,
        json: {
          displayName: 'x',
          requiredResourceAccess: [{ resourceAppId: EXCHANGE_APP_ID, resourceAccess: [], extra: 1 }],
        },
      });
      expect(nested.body.error.message).toBe(
        "The property 'extra' does not exist on type 'Microsoft.DirectoryServices.RequiredResourceAccess'. Make sure to only use property names that are defined by the type.",
      );
      const guid = await rec.call('POST', '/applications', {
        token: op,
        json: {
          displayName: 'x',
          requiredResourceAccess: [{ resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: 'nope', type: 'Role' }] }],
        },
      });
      expect(guid.body.error.message).toBe("Cannot convert the literal 'nope' to the expected type 'Edm.Guid'.");
      const huge = await rec.call('POST', '/applications', {
        token: op,
        json: { displayName: 'x', tags: ['x'.repeat(5000)] },
      });
      expect(huge.body.error.message).toBe("Invalid value specified for property 'tags' of resource 'Application'.");
      const nullCollection = await rec.call('POST', '/applications', {
        token: op,
        json: { displayName: 'x', tags: null },
      });
      expect(nullCollection.status).toBe(400);
      const audience = await rec.call('POST', '/applications', {
        token: op,
        json: { displayName: 'x', signInAudience: 'Everyone' },
      });
      expect(audience.body.error.message).toBe(
        "Invalid value specified for property 'signInAudience' of resource 'Application'.",
      );
      const app = await createApp({ displayName: 'typed' });
      const empty = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        body: '',
        headers: { 'Content-Type': 'application/json' },
      });
      expect(empty.body.error.message).toBe('Empty Payload. JSON content expected.');
      const password = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: { passwordCredentials: [{ displayName: 'x', secretText: 'mine' }] },
      });
      expect(password.body.error.message).toBe('New password credentials must be generated using service actions.');
      const readOnly = await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { appId: app.appId } });
      expect(readOnly.status).toBe(400);
      // A refused PATCH changes nothing.
      const partial = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: { notes: 'n', signInAudience: 'bad' },
      });
      expect(partial.status).toBe(400);
      const read = await rec.call('GET', `/applications/${app.id}`, { token: op });
      expect(read.body.notes).toBeNull();
    });

    it('refuses a secret longer than the tenant policy allows with CredentialInvalidLifetimeAsPerAppPolicy', async () => {
      const app = await createApp({ displayName: 'policy' });
      await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: 180 });
      try {
        const refused = await rec.call('POST', `/applications/${app.id}/addPassword`, { token: op, json: {} });
        expect(refused.status).toBe(400);
        expect(refused.body.error.code).toBe('CredentialInvalidLifetimeAsPerAppPolicy');
        expect(refused.body.error.message).toMatch(
          /^Credential lifetime exceeds the max value allowed as per assigned policy '[0-9a-f-]{36}'\.$/,
        );
        expect(refused.body.error.details).toEqual([
          { code: 'InvalidKeyEndDate', message: refused.body.error.message, target: 'EndDate' },
        ]);
        const end = new Date(Date.now() + 90 * 86_400_000).toISOString();
        const ok = await rec.call('POST', `/applications/${app.id}/addPassword`, {
          token: op,
          json: { passwordCredential: { displayName: '90 days', endDateTime: end } },
        });
        expect(ok.status).toBe(200);
        expect(ok.body.secretText).toHaveLength(40);
      } finally {
        await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: null });
      }
    });

    it('answers removePassword of an unknown keyId with 400 "No password credential found with keyId", of a malformed one with 400', async () => {
      const app = await createApp({ displayName: 'remove' });
      const unknown = await rec.call('POST', `/applications/${app.id}/removePassword`, {
        token: op,
        json: { keyId: '11111111-1111-1111-1111-111111111111' },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toBe(
        'No password credential found with keyId 11111111-1111-1111-1111-111111111111.',
      );
      const malformed = await rec.call('POST', `/applications/${app.id}/removePassword`, {
        token: op,
        json: { keyId: 'x' },
      });
      expect(malformed.status).toBe(400);
      const extra = await rec.call('POST', `/applications/${app.id}/addPassword`, { token: op, json: { secret: 'x' } });
      expect(extra.status).toBe(400);
    });

    it('validates keyCredentials: a key that is not a certificate, or a changed key under an existing keyId', async () => {
      const app = await createApp({ displayName: 'certs' });
      const junk = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: {
          keyCredentials: [
            { type: 'AsymmetricX509Cert', usage: 'Verify', key: Buffer.from('junk').toString('base64') },
          ],
        },
      });
      expect(junk.status).toBe(400);
      expect(junk.body.error.code).toBe('KeyCredentialsInvalidValue');
      const empty = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify' }] },
      });
      expect(empty.body.error.message).toBe('KeyValue cannot be null or empty');
      const usage = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Encrypt', key: testCertificate().key }] },
      });
      expect(usage.status).toBe(400);
      const cert = testCertificate('first');
      await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: cert.key }] },
      });
      const read = await rec.call('GET', `/applications/${app.id}`, { token: op });
      const keyId = read.body.keyCredentials[0].keyId;
      const changed = await rec.call('PATCH', `/applications/${app.id}`, {
        token: op,
        json: {
          keyCredentials: [{ keyId, type: 'AsymmetricX509Cert', usage: 'Verify', key: testCertificate('other').key }],
        },
      });
      expect(changed.status).toBe(400);
      expect(changed.body.error.message).toBe(`Update to existing credential with KeyId '${keyId}' is not allowed.`);
      const cleared = await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { keyCredentials: [] } });
      expect(cleared.status).toBe(204);
      expect((await rec.call('GET', `/applications/${app.id}`, { token: op })).body.keyCredentials).toEqual([]);
    });
  });

  describe('service principals and grants', () => {
    it('refuses a duplicate service principal with 409 Request_MultipleObjectsWithSameKeyValue', async () => {
      const app = await createApp({ displayName: 'dup sp' });
      expect((await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } })).status).toBe(
        201,
      );
      const dup = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } });
      expect(dup.status).toBe(409);
      expect(dup.body.error).toMatchObject({
        code: 'Request_MultipleObjectsWithSameKeyValue',
        message: `The service principal cannot be created, updated, or restored because the service principal name ${app.appId} is already in use.`,
      });
      const exo = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: EXCHANGE_APP_ID } });
      expect(exo.status).toBe(409);
    });

    it('upserts a service principal by (appId=…) with Prefer: create-if-missing (201 then 204), 404 without it', async () => {
      const app = await createApp({ displayName: 'sp upsert' });
      const path = `/servicePrincipals(appId='${app.appId}')`;
      expect((await rec.call('PATCH', path, { token: op, json: { tags: ['a'] } })).status).toBe(404);
      const created = await rec.call('PATCH', path, {
        token: op,
        json: { tags: ['a'] },
        headers: { Prefer: 'create-if-missing' },
      });
      expect(created.status).toBe(201);
      expect(created.body.tags).toEqual(['a']);
      const updated = await rec.call('PATCH', path, {
        token: op,
        json: { tags: ['b'] },
        headers: { Prefer: 'create-if-missing' },
      });
      expect(updated.status).toBe(204);
      const list = await rec.call('GET', `/servicePrincipals?$filter=appId eq '${app.appId}'`, { token: op });
      expect(list.body.value).toHaveLength(1);
      expect(list.body.value[0].tags).toEqual(['b']);
      const byName = await rec.call('GET', `/servicePrincipals?$filter=displayName eq 'sp upsert'&$select=id`, {
        token: op,
      });
      expect(byName.body.value).toEqual([{ id: created.body.id }]);
    });

    it('refuses a role the resource does not define and grants through /appRoleAssignments; DELETE revokes', async () => {
      const app = await createApp({ displayName: 'grant forms' });
      const sp = (await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } })).body;
      const exo = (await rec.call('GET', `/servicePrincipals(appId='${EXCHANGE_APP_ID}')`, { token: op })).body;
      const wrongRole = await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: sp.id, resourceId: exo.id, appRoleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9' },
      });
      expect(wrongRole.status).toBe(400);
      expect(wrongRole.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: `Permission being assigned was not found on application '${EXCHANGE_APP_ID}'.`,
      });
      const role = exo.appRoles.find((r: { value: string }) => r.value === 'SMTP.SendAsApp');
      const grant = await rec.call('POST', `/servicePrincipals/${sp.id}/appRoleAssignments`, {
        token: op,
        json: { principalId: sp.id, resourceId: exo.id, appRoleId: role.id },
      });
      expect(grant.status).toBe(201);
      expect(grant.body['@odata.context']).toMatch(
        new RegExp(`#servicePrincipals\\('${sp.id}'\\)/appRoleAssignments/\\$entity$`),
      );
      expect(grant.body.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const listed = await rec.call('GET', `/servicePrincipals/${sp.id}/appRoleAssignments`, { token: op });
      expect(listed.body.value.map((a: { id: string }) => a.id)).toEqual([grant.body.id]);
      const unknownPrincipal = await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: '22222222-2222-2222-2222-222222222222', resourceId: exo.id, appRoleId: role.id },
      });
      expect(unknownPrincipal.status).toBe(404);
      expect(unknownPrincipal.body.error.code).toBe('Request_ResourceNotFound');
      const del = await rec.call('DELETE', `/servicePrincipals/${exo.id}/appRoleAssignedTo/${grant.body.id}`, {
        token: op,
      });
      expect(del.status).toBe(204);
      const again = await rec.call('DELETE', `/servicePrincipals/${exo.id}/appRoleAssignedTo/${grant.body.id}`, {
        token: op,
      });
      expect(again.status).toBe(404);
    });

    it('keeps a service principal’s appRoles in step with its application, so a role added later can be granted', async () => {
      const api = await createApp({ displayName: 'resource api', signInAudience: 'AzureADMultipleOrgs' });
      const apiSp = (await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: api.appId } })).body;
      expect(apiSp.appRoles).toEqual([]);
      const role = {
        id: 'a1b2c3d4-0000-4000-8000-000000000001',
        value: 'Widgets.Read.All',
        displayName: 'Read widgets',
        description: 'Read widgets',
        allowedMemberTypes: ['Application'],
        isEnabled: true,
      };
      expect(
        (await rec.call('PATCH', `/applications/${api.id}`, { token: op, json: { appRoles: [role] } })).status,
      ).toBe(204);
      const after = (await rec.call('GET', `/servicePrincipals/${apiSp.id}?$select=appRoles`, { token: op })).body;
      expect(after.appRoles).toEqual([{ ...role, origin: null }]);
      const client = await createApp({ displayName: 'widget client' });
      const clientSp = (await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: client.appId } }))
        .body;
      const grant = await rec.call('POST', `/servicePrincipals/${apiSp.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: clientSp.id, resourceId: apiSp.id, appRoleId: role.id },
      });
      expect(grant.status).toBe(201);
    });

    it('deleting a service principal removes its grants; deleting the application removes its home service principal', async () => {
      const app = await createApp({ displayName: 'cascade' });
      const sp = (await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } })).body;
      const exo = (await rec.call('GET', `/servicePrincipals(appId='${EXCHANGE_APP_ID}')`, { token: op })).body;
      const role = exo.appRoles.find((r: { value: string }) => r.value === 'SMTP.SendAsApp');
      await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
        token: op,
        json: { principalId: sp.id, resourceId: exo.id, appRoleId: role.id },
      });
      expect((await rec.call('DELETE', `/applications/${app.id}`, { token: op })).status).toBe(204);
      expect((await rec.call('GET', `/servicePrincipals/${sp.id}`, { token: op })).status).toBe(404);
      const tenant = emu.store.findTenant(CONTOSO)!;
      expect(tenant.appRoleAssignments.some((a) => a.entity.principalId === sp.id)).toBe(false);
    });
  });

  describe('replication delay', () => {
    it('answers NoBackingApplicationObject right after the app is created, and creates the service principal once replicated', async () => {
      await emu.control.setKnobs({ replicationDelayMs: 300 });
      try {
        const app = await createApp({ displayName: 'replicating' });
        const early = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } });
        expect(early.status).toBe(400);
        expect(early.body.error.code).toBe('Request_BadRequest');
        expect(early.body.error.message).toBe(
          `The appId '${app.appId}' of the service principal does not reference a valid application object.`,
        );
        expect(early.body.error.details[0]).toMatchObject({ code: 'NoBackingApplicationObject', target: 'appId' });
        expect((await rec.call('GET', `/applications/${app.id}`, { token: op })).status).toBe(404);
        await new Promise((r) => setTimeout(r, 350));
        const sp = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.appId } });
        expect(sp.status).toBe(201);
        // The new service principal is not yet a valid principal for a grant.
        const exo = (await rec.call('GET', `/servicePrincipals(appId='${EXCHANGE_APP_ID}')`, { token: op })).body;
        const role = exo.appRoles.find((r: { value: string }) => r.value === 'SMTP.SendAsApp');
        const grantEarly = await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
          token: op,
          json: { principalId: sp.body.id, resourceId: exo.id, appRoleId: role.id },
        });
        expect(grantEarly.status).toBe(404);
        await new Promise((r) => setTimeout(r, 350));
        const grant = await rec.call('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
          token: op,
          json: { principalId: sp.body.id, resourceId: exo.id, appRoleId: role.id },
        });
        expect(grant.status).toBe(201);
      } finally {
        await emu.control.setKnobs({ replicationDelayMs: 0 });
      }
    });
  });

  describe('tenants', () => {
    it('keeps an application in its home tenant: not listed or readable in fabrikam', async () => {
      const app = await createApp({ displayName: 'contoso only', signInAudience: 'AzureADMyOrg' });
      const list = await rec.call('GET', `/applications?$filter=appId eq '${app.appId}'`, { token: opFabrikam });
      expect(list.status).toBe(200);
      expect(list.body.value).toEqual([]);
      expect((await rec.call('GET', `/applications/${app.id}`, { token: opFabrikam })).status).toBe(404);
      const sp = await rec.call('POST', '/servicePrincipals', { token: opFabrikam, json: { appId: app.appId } });
      expect(sp.status).toBe(400);
      expect(sp.body.error.details[0].code).toBe('NoBackingApplicationObject');
    });

    it('gives a multi-tenant application a service principal in fabrikam, owned by contoso', async () => {
      const app = await createApp({ displayName: 'isv app', signInAudience: 'AzureADMultipleOrgs' });
      const sp = await rec.call('POST', '/servicePrincipals', { token: opFabrikam, json: { appId: app.appId } });
      expect(sp.status).toBe(201);
      expect(sp.body.appOwnerOrganizationId).toBe(emu.store.findTenant(CONTOSO)!.id);
      const list = await rec.call('GET', '/applications', { token: opFabrikam });
      expect(list.body.value.some((a: { appId: string }) => a.appId === app.appId)).toBe(false);
      const contosoSps = await rec.call('GET', `/servicePrincipals?$filter=appId eq '${app.appId}'`, { token: op });
      expect(contosoSps.body.value).toEqual([]);
    });
  });

  describe('organization and domains', () => {
    it('requires Organization.Read.All / Domain.Read.All, then answers the tenant in Graph’s shape', async () => {
      expect((await rec.call('GET', '/organization', { token: op })).status).toBe(403);
      expect((await rec.call('GET', '/domains', { token: op })).status).toBe(403);
      const reader = await clientWithRoles('org reader', ['Organization.Read.All', 'Domain.Read.All']);
      const org = await rec.call('GET', '/organization', { token: reader.token() });
      expect(org.status).toBe(200);
      expect(org.body['@odata.context']).toMatch(/#organization$/);
      const tenant = emu.store.findTenant(CONTOSO)!;
      expect(org.body.value[0]).toMatchObject({
        id: tenant.id,
        displayName: 'Contoso',
        tenantType: 'AAD',
        verifiedDomains: [
          {
            name: CONTOSO,
            isDefault: true,
            isInitial: true,
            type: 'Managed',
            capabilities: 'Email, OfficeCommunicationsOnline',
          },
        ],
      });
      const one = await rec.call('GET', `/organization/${tenant.id}?$select=id,displayName`, { token: reader.token() });
      expect(one.body).toEqual({
        '@odata.context': `${emu.endpoints.graphBaseUrl}/$metadata#organization(id,displayName)/$entity`,
        id: tenant.id,
        displayName: 'Contoso',
      });
      const domains = await rec.call('GET', '/domains', { token: reader.token() });
      expect(domains.body.value[0]).toMatchObject({
        id: CONTOSO,
        isDefault: true,
        isInitial: true,
        isVerified: true,
        authenticationType: 'Managed',
      });
      expect((await rec.call('GET', `/domains/${CONTOSO}`, { token: reader.token() })).status).toBe(200);
      expect((await rec.call('GET', `/domains/${FABRIKAM}`, { token: reader.token() })).status).toBe(404);
    });
  });

  describe('service faults', () => {
    it('answers an injected fault with 503 serviceNotAvailable and the throttle knob with 429 TooManyRequests + Retry-After', async () => {
      await emu.control.setKnobs({ faults: [{ service: 'graph', call: 1, kind: '503' }] });
      const fault = await rec.call('GET', '/applications', { token: op });
      expect(fault.status).toBe(503);
      expect(fault.body.error.code).toBe('serviceNotAvailable');
      await emu.control.setKnobs({ throttle: { every: 1, retryAfterSeconds: 7, services: ['graph'] }, faults: [] });
      try {
        const throttled = await rec.call('GET', '/applications', { token: op });
        expect(throttled.status).toBe(429);
        expect(throttled.headers.get('retry-after')).toBe('7');
        expect(throttled.body.error.code).toBe('TooManyRequests');
      } finally {
        await emu.control.setKnobs({ throttle: { every: 0, retryAfterSeconds: 1, services: ['graph', 'exchange'] } });
      }
    });
  });

  it('every answer in this file conforms to the type model (entities) and the documented error shape', () => {
    expect(rec.responses.length).toBeGreaterThan(80);
    expect(rec.responses.filter((r) => r.status >= 400).length).toBeGreaterThan(30);
    const problems = rec.responses.flatMap((r) => conformanceProblems(r));
    expect(problems).toEqual([]);
  });
});
