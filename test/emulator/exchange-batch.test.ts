/**
 * `POST /adminapi/{beta|v1.0}/{tenant}/$batch` as CIPP's New-ExoBulkRequest.ps1 uses it: up to 10 InvokeCommand
 * items, each answered exactly like a single call, and the request log telling requests on the wire from cmdlets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { MAX_BATCH_REQUESTS, isExchangeBatchItem } from '../../src/emulator/exchange/index.js';
import { defaultKnobs, type TenantRecord } from '../../src/emulator/state.js';

type Json = any;

const CONTOSO = 'contoso.onmicrosoft.com';
const FABRIKAM = 'fabrikam.onmicrosoft.com';
const CONTINUE = 'odata.maxpagesize = 1000;odata.continue-on-error';

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

describe('Exchange admin API $batch', () => {
  let emu: TestEmulator;
  let contoso: TenantRecord;
  let token: string;
  let mailboxes: string[];

  const invokeUrl = (): string => `${emu.endpoints.authorityHost}/adminapi/beta/${contoso.id}/InvokeCommand`;

  /** One item as CIPP builds it: absolute InvokeCommand url, the call's headers, the CmdletInput body. */
  function item(
    cmdlet: string,
    parameters: Record<string, unknown> = {},
    o: { id?: string; url?: string; headers?: Record<string, string>; method?: string } = {},
  ): Json {
    return {
      id: o.id ?? randomUUID(),
      method: o.method ?? 'POST',
      url: o.url ?? invokeUrl(),
      headers: o.headers ?? {
        Authorization: `Bearer ${token}`,
        Prefer: CONTINUE,
        'X-CmdletName': cmdlet,
        Accept: 'application/json; odata.metadata=minimal',
      },
      body: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
    };
  }

  async function batch(
    requests: Json[] | undefined,
    o: { prefer?: string | null; token?: string | null; tenant?: string; version?: string; raw?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (o.prefer !== null) headers.Prefer = o.prefer ?? CONTINUE;
    const res = await emu.request(`/adminapi/${o.version ?? 'beta'}/${o.tenant ?? contoso.id}/$batch`, {
      method: 'POST',
      ...(o.token === null ? {} : { token: o.token ?? token }),
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: o.raw ?? JSON.stringify({ requests }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async function single(cmdlet: string, parameters: Record<string, unknown> = {}): Promise<Answer> {
    const res = await emu.request(`/adminapi/beta/${contoso.id}/InvokeCommand`, {
      method: 'POST',
      token,
      json: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  const byId = (a: Answer): Map<string, Json> => new Map(a.body.responses.map((r: Json) => [r.id, r]));

  beforeAll(async () => {
    emu = await startTestEmulator();
    contoso = emu.store.findTenant(CONTOSO)!;
    token = emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
    mailboxes = contoso.users.filter((u) => u.mailbox).map((u) => u.entity.mail);
  });
  afterAll(async () => emu.close());
  beforeEach(async () => {
    await emu.control.setKnobs({ throttle: defaultKnobs().throttle, faults: [] });
    emu.store.resetCallCounts();
    await emu.control.clearLog();
  });

  it('answers every item as the same call alone would, by id, in one request', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [
      ['Get-OrganizationConfig', {}],
      ['Get-TransportConfig', {}],
      ['Get-CASMailbox', { Identity: mailboxes[0] }],
      ['Get-MailboxPermission', { Identity: mailboxes[1] }],
    ];
    const items = calls.map(([c, p]) => item(c, p));
    const r = await batch(items);
    expect(r.status).toBe(200);
    expect(r.headers.get('preference-applied')).toBe('odata.continue-on-error');
    expect(r.body.responses.map((x: Json) => x.id)).toEqual(items.map((i) => i.id));
    for (const [i, [cmdlet, params]] of calls.entries()) {
      const alone = await single(cmdlet, params);
      const answer = r.body.responses[i];
      expect(answer.status).toBe(200);
      expect(answer.headers['Content-Type']).toMatch(/^application\/json/);
      expect(answer.body.value).toEqual(alone.body.value);
      expect(answer.body['@odata.context']).toBe(alone.body['@odata.context']);
      expect(answer.body['@adminapi.warnings']).toEqual([]);
    }
  });

  it('logs the batch once on the wire and each item once as a cmdlet, with its write flag', async () => {
    const user = contoso.users.find((u) => u.entity.mail === mailboxes[0])!;
    const before = user.mailbox!.smtpClientAuthenticationDisabled;
    const r = await batch([
      item('Get-TransportConfig'),
      item('Set-CASMailbox', { Identity: mailboxes[0], SmtpClientAuthenticationDisabled: false }),
      item('Get-CASMailbox', { Identity: mailboxes[0] }),
    ]);
    expect(r.body.responses.map((x: Json) => x.status)).toEqual([200, 200, 200]);
    // Items run in order: the read after the write sees it.
    expect(r.body.responses[2].body.value[0].SmtpClientAuthenticationDisabled).toBe(false);
    user.mailbox!.smtpClientAuthenticationDisabled = before;

    const log = await emu.control.log({ service: 'exchange' });
    const wire = log.filter((e) => !isExchangeBatchItem(e));
    const items = log.filter((e) => isExchangeBatchItem(e));
    expect(wire).toHaveLength(1);
    expect(wire[0]).toMatchObject({ path: `/adminapi/beta/${contoso.id}/$batch`, status: 200, write: false });
    expect(wire[0]!.cmdlet).toBeUndefined();
    expect(items.map((e) => [e.cmdlet, e.write, e.status])).toEqual([
      ['Get-TransportConfig', false, 200],
      ['Set-CASMailbox', true, 200],
      ['Get-CASMailbox', false, 200],
    ]);
    for (const e of items)
      expect(e).toMatchObject({
        path: `/adminapi/beta/${contoso.id}/$batch#item`,
        tenantId: contoso.id,
        caller: emu.endpoints.operator.clientId,
      });
    // Writes are counted once (the items), cmdlets once each.
    expect(log.filter((e) => e.write)).toHaveLength(1);
    expect(log.filter((e) => e.cmdlet)).toHaveLength(3);
  });

  it('maps each failing item to the error body a single call gets, and runs the others (continue-on-error)', async () => {
    const missing = `nobody-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const r = await batch([
      item('Get-CASMailbox', { Identity: missing }, { id: 'a' }),
      item('Get-Nothing', {}, { id: 'b' }),
      item('Get-CASMailbox', { Identity: mailboxes[0], Bogus: 1 }, { id: 'c' }),
      item('Get-TransportConfig', {}, { id: 'd' }),
    ]);
    expect(r.status).toBe(200);
    const answers = byId(r);
    const alone = await single('Get-CASMailbox', { Identity: missing });
    expect(answers.get('a').status).toBe(404);
    expect(answers.get('a').body).toEqual(alone.body);
    expect(answers.get('a').body.error.details[0].message).toMatch(/ManagementObjectNotFoundException/);
    expect(answers.get('b').status).toBe((await single('Get-Nothing')).status);
    expect(answers.get('b').body.error.innererror.internalexception.type).toMatch(/CommandNotFoundException/);
    expect(answers.get('c').status).toBe(400);
    expect(answers.get('c').body.error.innererror.internalexception.message).toMatch(/Bogus/);
    expect(answers.get('d').status).toBe(200);
  });

  it('without odata.continue-on-error stops at the first failing item: later items neither run nor answer', async () => {
    const user = contoso.users.find((u) => u.entity.mail === mailboxes[1])!;
    const before = user.mailbox!.smtpClientAuthenticationDisabled;
    const r = await batch(
      [
        item('Get-TransportConfig', {}, { id: '1' }),
        item('Get-CASMailbox', { Identity: 'nobody@contoso.onmicrosoft.com' }, { id: '2' }),
        item('Set-CASMailbox', { Identity: mailboxes[1], SmtpClientAuthenticationDisabled: true }, { id: '3' }),
      ],
      { prefer: null },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('preference-applied')).toBeNull();
    expect(r.body.responses.map((x: Json) => [x.id, x.status])).toEqual([
      ['1', 200],
      ['2', 404],
    ]);
    expect(user.mailbox!.smtpClientAuthenticationDisabled).toBe(before);
    const items = (await emu.control.log({ service: 'exchange' })).filter((e) => isExchangeBatchItem(e));
    expect(items.map((e) => e.cmdlet)).toEqual(['Get-TransportConfig', 'Get-CASMailbox']);
  });

  it(`takes at most ${MAX_BATCH_REQUESTS} requests, and refuses more without running any`, async () => {
    const ten = Array.from({ length: MAX_BATCH_REQUESTS }, () => item('Get-TransportConfig'));
    const ok = await batch(ten);
    expect(ok.status).toBe(200);
    expect(ok.body.responses).toHaveLength(MAX_BATCH_REQUESTS);
    await emu.control.clearLog();
    const tooMany = await batch([...ten, item('Get-TransportConfig')]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.innererror.internalexception.message).toMatch(/at most 10/);
    const log = await emu.control.log({ service: 'exchange' });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status: 400, write: false });
  });

  it.each([
    ['not JSON', { raw: '{"requests":' }],
    ['no requests array', { raw: '{"value":[]}' }],
    ['an empty requests array', { raw: '{"requests":[]}' }],
    ['an item without an id', { raw: JSON.stringify({ requests: [{ method: 'POST', url: 'InvokeCommand' }] }) }],
    [
      'duplicate ids',
      {
        raw: JSON.stringify({
          requests: [
            { id: 'x', method: 'POST', url: 'InvokeCommand', body: {} },
            { id: 'X', method: 'POST', url: 'InvokeCommand', body: {} },
          ],
        }),
      },
    ],
  ])('refuses a malformed batch (%s) with 400 in Exchange’s error shape', async (_name, o) => {
    const r = await batch(undefined, o);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('BadRequest');
    expect(r.body.error.innererror.internalexception.type).toBe('Microsoft.OData.ODataException');
  });

  it('accepts v1.0, the tenant domain, relative item urls, and $select in an item url', async () => {
    const r = await batch(
      [
        item('Get-CASMailbox', { Identity: mailboxes[0] }, { id: 'rel', url: 'InvokeCommand' }),
        item(
          'Get-CASMailbox',
          { Identity: mailboxes[0] },
          { id: 'sel', url: `/adminapi/v1.0/${CONTOSO}/InvokeCommand?$select=SmtpClientAuthenticationDisabled` },
        ),
      ],
      { version: 'v1.0', tenant: CONTOSO },
    );
    expect(r.status).toBe(200);
    const answers = byId(r);
    expect(answers.get('rel').status).toBe(200);
    expect(answers.get('rel').body['@odata.context']).toContain(`/adminapi/v1.0/${contoso.id}/$metadata`);
    expect(Object.keys(answers.get('sel').body.value[0])).toEqual(['SmtpClientAuthenticationDisabled']);
  });

  it('answers an item that is not a POST to InvokeCommand of this organization on its own, not the batch', async () => {
    const fabrikam = emu.store.findTenant(FABRIKAM)!;
    const r = await batch([
      item('Get-TransportConfig', {}, { id: 'get', method: 'GET' }),
      item('Get-TransportConfig', {}, { id: 'other', url: `/adminapi/beta/${contoso.id}/Mailbox` }),
      item('Get-TransportConfig', {}, { id: 'tenant', url: `/adminapi/beta/${fabrikam.id}/InvokeCommand` }),
      item('Get-TransportConfig', {}, { id: 'fine' }),
    ]);
    const answers = byId(r);
    expect(answers.get('get').status).toBe(405);
    expect(answers.get('other').status).toBe(400);
    expect(answers.get('tenant').status).toBe(400);
    expect(answers.get('fine').status).toBe(200);
  });

  describe('authorization', () => {
    it('refuses the whole batch without a valid token (401 with the Bearer challenge), running nothing', async () => {
      const r = await batch([item('Get-TransportConfig')], { token: null });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
      const fabrikamToken = emu.mintAppToken(FABRIKAM, emu.endpoints.operator.clientId, 'exchange');
      const other = await batch([item('Get-TransportConfig')], { token: fabrikamToken });
      expect(other.status).toBe(401);
      expect(other.headers.get('x-ms-diagnostics')).toMatch(/invalid_tenant/);
      const log = await emu.control.log({ service: 'exchange' });
      expect(log.filter((e) => isExchangeBatchItem(e))).toEqual([]);
    });

    it('authorizes each item with its own token, or the batch’s when it has none', async () => {
      const fabrikamToken = emu.mintAppToken(FABRIKAM, emu.endpoints.operator.clientId, 'exchange');
      const r = await batch([
        item('Get-TransportConfig', {}, { id: 'inherits', headers: {} }),
        item('Get-TransportConfig', {}, { id: 'own-bad', headers: { Authorization: 'Bearer not.a.token' } }),
        item('Get-TransportConfig', {}, { id: 'other-tenant', headers: { Authorization: `Bearer ${fabrikamToken}` } }),
      ]);
      const answers = byId(r);
      expect(answers.get('inherits').status).toBe(200);
      expect(answers.get('own-bad').status).toBe(401);
      expect(answers.get('own-bad').headers['WWW-Authenticate']).toMatch(/^Bearer /);
      expect(answers.get('other-tenant').status).toBe(401);
    });

    it('refuses each item for an app without an Exchange role exactly as a single call', async () => {
      const appId = randomUUID();
      contoso.servicePrincipals.push({
        entity: {
          id: randomUUID(),
          appId,
          displayName: 'no roles',
          appRoles: [],
          appOwnerOrganizationId: contoso.id,
          servicePrincipalType: 'Application',
        },
        meta: { createdAtMs: 0 },
        directoryRoles: [],
        firstParty: false,
      });
      const weak = emu.mintAppToken(CONTOSO, appId, 'exchange');
      const r = await batch(
        [item('Get-TransportConfig', {}, { headers: {} }), item('Get-Mailbox', {}, { headers: {} })],
        {
          token: weak,
        },
      );
      expect(r.status).toBe(200);
      const res = await emu.request(`/adminapi/beta/${contoso.id}/InvokeCommand`, {
        method: 'POST',
        token: weak,
        json: { CmdletInput: { CmdletName: 'Get-TransportConfig', Parameters: {} } },
      });
      const alone = await res.json();
      expect(r.body.responses.map((x: Json) => x.status)).toEqual([res.status, res.status]);
      // No Exchange.ManageAsApp: "User is not allowed to call …" (401).
      expect(res.status).toBe(401);
      expect(r.body.responses[0].body).toEqual(alone);
    });
  });

  describe('realism knobs', () => {
    it('throttles items one by one (429 with Retry-After in the item), on top of the batch itself', async () => {
      await emu.control.setKnobs({ throttle: { every: 3, services: ['exchange'], retryAfterSeconds: 7 } });
      // Call 1 is the batch, 2.. its items: item 2 (call 3) and item 5 (call 6) are throttled.
      const r = await batch(
        Array.from({ length: 5 }, (_, i) => item('Get-TransportConfig', {}, { id: String(i + 1) })),
      );
      expect(r.status).toBe(200);
      expect(r.body.responses.map((x: Json) => x.status)).toEqual([200, 429, 200, 200, 429]);
      expect(r.body.responses[1].headers['Retry-After']).toBe('7');
      expect(r.body.responses[1].body.error.code).toBe('TooManyRequests');
      const items = (await emu.control.log({ service: 'exchange' })).filter((e) => isExchangeBatchItem(e));
      expect(items.map((e) => [e.cmdlet, e.status, e.write])).toContainEqual(['Get-TransportConfig', 429, false]);
    });

    it('fails an item with 503 when an injected fault hits its call number', async () => {
      await emu.control.setKnobs({ faults: [{ service: 'exchange', call: 3, kind: '503' }] });
      const r = await batch([item('Get-TransportConfig'), item('Get-TransportConfig'), item('Get-TransportConfig')]);
      expect(r.body.responses.map((x: Json) => x.status)).toEqual([200, 503, 200]);
      expect(r.body.responses[1].body.error.code).toBe('ServiceUnavailable');
    });
  });

  it('pages an item like a single call: its nextLink is re-POSTed directly to InvokeCommand', async () => {
    const r = await batch([
      item(
        'Get-Mailbox',
        {},
        { id: 'p', headers: { Authorization: `Bearer ${token}`, Prefer: 'odata.maxpagesize=1' } },
      ),
    ]);
    const first = byId(r).get('p');
    expect(first.status).toBe(200);
    expect(first.body.value).toHaveLength(1);
    expect(first.headers['Preference-Applied']).toBe('odata.maxpagesize=1');
    const next = first.body['@odata.nextLink'];
    expect(next).toMatch(/\/InvokeCommand\?.*(\$|%24)skiptoken=/);
    const rows = [...first.body.value];
    let url: string | undefined = next;
    while (url) {
      const res = await emu.request(url, {
        method: 'POST',
        token,
        headers: { Prefer: 'odata.maxpagesize=1' },
        json: { CmdletInput: { CmdletName: 'Get-Mailbox', Parameters: {} } },
      });
      const page = (await res.json()) as Json;
      expect(res.status).toBe(200);
      rows.push(...page.value);
      url = page['@odata.nextLink'];
    }
    expect(rows).toEqual((await single('Get-Mailbox')).body.value);
  });
});
