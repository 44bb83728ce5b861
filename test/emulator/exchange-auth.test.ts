import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { classifyExchangeError } from '../../src/emulator/exchange/index.js';
import { loadOrCreatePki } from '../../src/emulator/pki.js';
import { RESOURCES, TokenIssuer } from '../../src/emulator/tokens.js';
import { userTokenClaims } from '../../src/emulator/claims.js';
import { EXCHANGE_APP_ID } from '../../src/emulator/seed.js';
import type { TenantRecord } from '../../src/emulator/state.js';

type Json = any;

const CONTOSO = 'contoso.onmicrosoft.com';
const FABRIKAM = 'fabrikam.onmicrosoft.com';
const MANAGE_AS_APP_ROLE_ID = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE = RESOURCES.find((r) => r.appId === EXCHANGE_APP_ID)!;

describe('Exchange admin API: authentication, authorization and request validation', () => {
  let emu: TestEmulator;
  let contoso: TenantRecord;
  let operatorToken: string;
  let issuer: TokenIssuer;

  async function call(
    token: string | undefined,
    body: unknown,
    options: { tenant?: string; method?: string; raw?: string } = {},
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const res = await emu.request(`/adminapi/beta/${options.tenant ?? contoso.id}/InvokeCommand`, {
      method: options.method ?? 'POST',
      ...(token ? { token } : {}),
      ...(options.raw !== undefined
        ? { body: options.raw, headers: { 'Content-Type': 'application/json' } }
        : options.method === 'GET'
          ? {}
          : { json: body }),
    });
    const text = await res.text();
    let parsed: Json;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  const cmd = (name: string, parameters: Record<string, unknown> = {}): Json => ({
    CmdletInput: { CmdletName: name, Parameters: parameters },
  });

  /** Another app consented in contoso, with or without Exchange.ManageAsApp and a directory role. */
  function otherApp(options: { manageAsApp: boolean; directoryRoles: string[] }): string {
    const appId = randomUUID();
    const spId = randomUUID();
    contoso.servicePrincipals.push({
      entity: {
        id: spId,
        appId,
        displayName: 'other app',
        appRoles: [],
        appOwnerOrganizationId: contoso.id,
        servicePrincipalType: 'Application',
      },
      meta: { createdAtMs: 0 },
      directoryRoles: options.directoryRoles,
      firstParty: false,
    });
    if (options.manageAsApp) {
      const exchangeSp = contoso.servicePrincipals.find((s) => s.entity.appId === EXCHANGE_APP_ID)!;
      contoso.appRoleAssignments.push({
        entity: {
          id: randomUUID(),
          appRoleId: MANAGE_AS_APP_ROLE_ID,
          principalId: spId,
          principalType: 'ServicePrincipal',
          principalDisplayName: 'other app',
          resourceId: exchangeSp.entity.id,
          resourceDisplayName: 'Office 365 Exchange Online',
          createdDateTime: new Date().toISOString(),
          deletedDateTime: null,
        },
        meta: { createdAtMs: 0 },
      });
    }
    return emu.mintAppToken(CONTOSO, appId, 'exchange');
  }

  function userToken(alias: string): string {
    const user = contoso.users.find((u) => u.mailbox?.alias === alias)!;
    return issuer.sign(
      userTokenClaims(contoso, user, 'fb78d390-0c51-40cd-8e17-fdbfab77341b', EXCHANGE, ['Exchange.Manage']),
    );
  }

  beforeAll(async () => {
    emu = await startTestEmulator();
    contoso = emu.store.findTenant(CONTOSO)!;
    operatorToken = emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
    issuer = new TokenIssuer(loadOrCreatePki(emu.stateDir, []));
  });
  afterAll(async () => emu.close());

  describe('401 for tokens Exchange does not accept', () => {
    it('no token: 401 with a Bearer challenge naming Exchange', async () => {
      const r = await call(undefined, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer client_id="00000002-0000-0ff1-ce00-000000000000"/);
      expect(r.headers.get('x-ms-diagnostics')).toMatch(/error_category="invalid_token"/);
      expect(classifyExchangeError(r.status, r.body)).toBe('unauthenticated');
    });

    it('a token that is not a JWT: "cannot be parsed"', async () => {
      const r = await call('not-a-jwt', cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.headers.get('x-ms-diagnostics')).toBe(
        '2000001;reason="OAuth token submitted with the request cannot be parsed.";error_category="invalid_token"',
      );
    });

    it('a tampered signature is refused', async () => {
      const [h, p] = operatorToken.split('.');
      const r = await call(`${h}.${p}.${Buffer.from('forged').toString('base64url')}`, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
    });

    it('an expired token is refused', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = JSON.parse(Buffer.from(operatorToken.split('.')[1]!, 'base64url').toString('utf8'));
      const expired = issuer.sign({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      const r = await call(expired, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.headers.get('x-ms-diagnostics')).toMatch(/expired/);
    });

    it('a Graph token (wrong audience): 2000003 invalid_resource naming the audience', async () => {
      const graph = emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'graph');
      const r = await call(graph, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.headers.get('x-ms-diagnostics')).toBe(
        `2000003;reason="The audience claim value is invalid 'https://graph.microsoft.com'.";error_category="invalid_resource"`,
      );
    });

    it("a fabrikam token on contoso's path (wrong tenant): 401 invalid_tenant", async () => {
      const fabrikamToken = emu.mintAppToken(FABRIKAM, emu.endpoints.operator.clientId, 'exchange');
      const r = await call(fabrikamToken, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.headers.get('x-ms-diagnostics')).toMatch(/error_category="invalid_tenant"/);
      // …while the same token works on its own tenant.
      const own = await call(fabrikamToken, cmd('Get-Mailbox'), { tenant: FABRIKAM });
      expect(own.status).toBe(200);
    });
  });

  it('an unknown tenant in the path is 404', async () => {
    const r = await call(operatorToken, cmd('Get-Mailbox'), { tenant: randomUUID() });
    expect(r.status).toBe(404);
    expect(r.body.error.innererror.internalexception.message).toMatch(
      /^The tenant for tenant guid '.*' does not exist\.$/,
    );
  });

  describe('401 / 403 for callers without an Exchange role', () => {
    it('an app without Exchange.ManageAsApp (even with Exchange Administrator): 401 "User is not allowed to call"', async () => {
      const token = otherApp({ manageAsApp: false, directoryRoles: ['Exchange Administrator'] });
      const r = await call(token, cmd('Get-Mailbox'));
      expect(r.status).toBe(401);
      expect(r.body.error.details[0].message).toContain('User is not allowed to call Get-Mailbox');
      expect(r.body.error.details[0].message).toContain('CmdletAccessDeniedException');
      expect(classifyExchangeError(r.status, r.body)).toBe('access-denied');
    });

    it('an app with Exchange.ManageAsApp but no supported Entra role: 401 "The role assigned to application … isn\'t supported"', async () => {
      for (const directoryRoles of [[], ['Application Administrator']]) {
        const token = otherApp({ manageAsApp: true, directoryRoles });
        const r = await call(token, cmd('Get-Mailbox'));
        expect(r.status).toBe(401);
        expect(r.body.error.details[0].message).toMatch(
          /The role assigned to application [0-9a-f-]{36} isn't supported in this scenario\. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication\.$/,
        );
        expect(classifyExchangeError(r.status, r.body)).toBe('access-denied');
      }
    });

    it('an app with a read-only role (Global Reader) may read but not write: 401 "User is not allowed to call"', async () => {
      const token = otherApp({ manageAsApp: true, directoryRoles: ['Global Reader'] });
      expect((await call(token, cmd('Get-OrganizationConfig'))).status).toBe(200);
      const write = await call(token, cmd('Set-TransportConfig', { SmtpClientAuthenticationDisabled: true }));
      expect(write.status).toBe(401);
      expect(write.body.error.details[0].message).toContain('User is not allowed to call Set-TransportConfig');
    });

    it('an app with Exchange.ManageAsApp and Global Administrator may call, and writes are logged as its own', async () => {
      const token = otherApp({ manageAsApp: true, directoryRoles: ['Global Administrator'] });
      const r = await call(token, cmd('Set-TransportConfig', { SmtpClientAuthenticationDisabled: true }));
      expect(r.status).toBe(200);
      const log = await emu.control.log({ service: 'exchange' });
      expect(log.at(-1)).toMatchObject({ cmdlet: 'Set-TransportConfig', write: true, status: 200 });
    });

    it('a signed-in Global Administrator may call; a user without an admin role may not', async () => {
      const admin = await call(userToken('admin'), cmd('Get-OrganizationConfig'));
      expect(admin.status).toBe(200);
      const log = await emu.control.log({ service: 'exchange' });
      expect(log.at(-1)?.caller).toBe('admin@contoso.onmicrosoft.com');
      const plain = await call(userToken('scanner'), cmd('Get-OrganizationConfig'));
      expect(plain.status).toBe(403);
      expect(plain.body.error.details[0].message).toContain('"scanner@contoso.onmicrosoft.com"');
    });
  });

  describe("requests Exchange can't run", () => {
    it('an unknown cmdlet: "The term … is not recognized as a name of a cmdlet"', async () => {
      const r = await call(operatorToken, cmd('Get-Unicorn'));
      expect(r.status).toBe(403);
      expect(r.body.error.innererror.internalexception.message).toMatch(
        /^The term 'Get-Unicorn' is not recognized as a name of a cmdlet, function, script file, or executable program\./,
      );
      expect(classifyExchangeError(r.status, r.body)).toBe('unknown-cmdlet');
    });

    it("an unknown parameter: the live service's AmbiguousParameterSetException body", async () => {
      const r = await call(operatorToken, cmd('Get-Mailbox', { BogusParameter: 1 }));
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({
        code: 'BadRequest',
        message: 'Invalid Operation',
        details: [
          {
            code: 'Client',
            target: '',
            message:
              '|Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException|Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified. BogusParameter',
          },
        ],
        innererror: {
          message: 'Invalid Operation',
          type: 'Microsoft.Exchange.Admin.OData.Core.ODataServiceException',
          internalexception: {
            type: 'Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException',
          },
        },
      });
      expect(classifyExchangeError(r.status, r.body)).toBe('invalid-parameter');
    });

    it("a wrongly typed Boolean: PowerShell's argument-transformation error, and nothing changes", async () => {
      const before = contoso.exchange.transportConfig.SmtpClientAuthenticationDisabled;
      const r = await call(operatorToken, cmd('Set-TransportConfig', { SmtpClientAuthenticationDisabled: 'yes' }));
      expect(r.status).toBe(400);
      expect(r.body.error.innererror.internalexception).toMatchObject({
        type: 'Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException',
        message:
          'Cannot process argument transformation on parameter \'SmtpClientAuthenticationDisabled\'. Cannot convert value "System.String" to type "System.Boolean". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.',
      });
      expect(r.body.error.details).toBeUndefined();
      expect(contoso.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(before);
    });

    it('an array where a string is expected, and an invalid enum name, are refused', async () => {
      const arr = await call(operatorToken, cmd('Get-Mailbox', { Identity: ['a', 'b'] }));
      expect(arr.status).toBe(400);
      expect(arr.body.error.innererror.internalexception.message).toContain(
        "Cannot convert 'System.Object[]' to the type 'System.String' required by parameter 'Identity'.",
      );
      const en = await call(
        operatorToken,
        cmd('Add-MailboxPermission', { Identity: 'ap', User: 'it', AccessRights: 'AllOfIt' }),
      );
      expect(en.status).toBe(400);
      expect(en.body.error.innererror.internalexception.message).toContain(
        'Unable to match the identifier name AllOfIt to a valid enumerator name. Specify one of the following enumerator names and try again: ChangeOwner, ChangePermission, DeleteItem, ExternalAccount, FullAccess, ReadPermission',
      );
      const size = await call(operatorToken, cmd('Get-Mailbox', { ResultSize: 'lots' }));
      expect(size.status).toBe(400);
    });

    it("a missing mandatory parameter, and a null one, are refused with PowerShell's texts", async () => {
      const missing = await call(operatorToken, cmd('New-ServicePrincipal', { DisplayName: 'x' }));
      expect(missing.status).toBe(400);
      expect(missing.body.error.innererror.internalexception.message).toBe(
        'Cannot process command because of one or more missing mandatory parameters: AppId ObjectId.',
      );
      const nul = await call(operatorToken, cmd('Get-DistributionGroupMember', { Identity: null }));
      expect(nul.status).toBe(400);
      expect(nul.body.error.innererror.internalexception.message).toBe(
        "Cannot bind argument to parameter 'Identity' because it is null.",
      );
    });

    it('malformed bodies are 400, GET is 405, and the service keeps answering', async () => {
      for (const raw of [
        '{not json',
        '[]',
        '{"CmdletInput":{}}',
        '{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":[1]}}',
      ]) {
        const r = await call(operatorToken, undefined, { raw });
        expect(r.status, raw).toBe(400);
        expect(r.body.error.code).toBe('BadRequest');
      }
      const get = await call(operatorToken, undefined, { method: 'GET' });
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
      expect((await call(operatorToken, cmd('Get-OrganizationConfig'))).status).toBe(200);
    });

    it('common parameters (-ErrorAction, -WarningAction) are accepted and -WhatIf changes nothing', async () => {
      const r = await call(
        operatorToken,
        cmd('Set-TransportConfig', { SmtpClientAuthenticationDisabled: false, WhatIf: true, ErrorAction: 'Stop' }),
      );
      expect(r.status).toBe(200);
      expect(contoso.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    });
  });

  describe("the service's own failures in Exchange's shape", () => {
    it('an injected 503 and a throttled 429 (with Retry-After) carry Exchange error bodies', async () => {
      await emu.control.setKnobs({ faults: [{ service: 'exchange', call: 1, kind: '503' }] });
      const unavailable = await call(operatorToken, cmd('Get-Mailbox'));
      expect(unavailable.status).toBe(503);
      expect(unavailable.body.error.code).toBe('ServiceUnavailable');
      expect(classifyExchangeError(unavailable.status, unavailable.body)).toBe('transient');

      await emu.control.setKnobs({ throttle: { every: 1, retryAfterSeconds: 7, services: ['exchange'] } });
      const throttled = await call(operatorToken, cmd('Get-Mailbox'));
      await emu.control.setKnobs({ throttle: { every: 0, retryAfterSeconds: 1, services: ['graph', 'exchange'] } });
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('7');
      expect(throttled.body.error.code).toBe('TooManyRequests');
      expect(classifyExchangeError(throttled.status, throttled.body)).toBe('throttled');
    });
  });
});
