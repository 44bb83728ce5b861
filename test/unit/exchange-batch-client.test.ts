/**
 * The product's side of Exchange batching: RestExchangeBackend.invokeMany over `$batch` (against the emulator, and
 * against a scripted server for what the emulator never does), and coalesceReads / invokeAll over any backend.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { isExchangeBatchItem } from '../../src/emulator/exchange/index.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import {
  EXO_BATCH_LIMIT,
  ExchangeError,
  RestExchangeBackend,
  coalesceReads,
  invokeAll,
  readSmtpAuth,
  type CmdletParameters,
  type ExchangeBackend,
  type ExchangeCall,
} from '../../src/exchange/index.js';

const CONTOSO = 'contoso.onmicrosoft.com';

function staticCredential(token: () => string): TokenCredential {
  return {
    getToken: async (): Promise<AccessToken> => ({ token: token(), expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

describe('RestExchangeBackend.invokeMany against the emulator', () => {
  let emu: TestEmulator;
  let tenantId: string;
  let mailboxes: string[];
  const backend = (o: { retryDeadlineMs?: number } = {}): RestExchangeBackend =>
    new RestExchangeBackend({
      credential: staticCredential(() => emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange')),
      adminUrl: emu.endpoints.exchangeAdminUrl,
      scope: 'https://outlook.office365.com/.default',
      tenantId,
      dispatcher: emu.dispatcher,
      sleep: async () => undefined,
      ...o,
    });
  const wire = async (): Promise<number> =>
    (await emu.control.log({ service: 'exchange' })).filter((e) => !isExchangeBatchItem(e)).length;

  beforeAll(async () => {
    emu = await startTestEmulator();
    const t = emu.store.findTenant(CONTOSO)!;
    tenantId = t.id;
    mailboxes = t.users.filter((u) => u.mailbox).map((u) => u.entity.mail);
  });
  afterAll(async () => emu.close());
  beforeEach(async () => {
    await emu.control.setKnobs({ throttle: defaultKnobs().throttle, faults: [] });
    await emu.control.clearLog();
  });

  it('sends independent calls as one $batch and answers each as invoke would, in order', async () => {
    const exo = backend();
    const calls: ExchangeCall[] = [
      { cmdlet: 'Get-TransportConfig' },
      { cmdlet: 'Get-OrganizationConfig' },
      { cmdlet: 'Get-CASMailbox', parameters: { Identity: mailboxes[0]! } },
    ];
    const results = await exo.invokeMany(calls);
    expect(exo.requestCount).toBe(1);
    expect(await wire()).toBe(1);
    const one = backend();
    for (const [i, c] of calls.entries()) expect(results[i]).toEqual(await one.invoke(c.cmdlet, c.parameters));
  });

  it(`chunks to ${EXO_BATCH_LIMIT} calls per batch`, async () => {
    const exo = backend();
    const calls = Array.from({ length: 2 * EXO_BATCH_LIMIT + 3 }, (_, i) => ({
      cmdlet: 'Get-CASMailbox',
      parameters: { Identity: mailboxes[i % mailboxes.length]! },
    }));
    const results = await exo.invokeMany(calls);
    expect(exo.requestCount).toBe(3);
    const log = await emu.control.log({ service: 'exchange' });
    expect(log.filter((e) => isExchangeBatchItem(e))).toHaveLength(calls.length);
    results.forEach((r, i) =>
      expect((r as Array<{ PrimarySmtpAddress: string }>)[0]!.PrimarySmtpAddress.toLowerCase()).toBe(
        calls[i]!.parameters.Identity.toLowerCase(),
      ),
    );
  });

  it('classifies a failed item exactly as invoke classifies the same failure', async () => {
    const exo = backend();
    const missing = { Identity: 'nobody@contoso.onmicrosoft.com' };
    const [bad, good, unknown] = await exo.invokeMany([
      { cmdlet: 'Get-CASMailbox', parameters: missing },
      { cmdlet: 'Get-TransportConfig' },
      { cmdlet: 'Get-Nothing' },
    ]);
    const thrown = await backend()
      .invoke('Get-CASMailbox', missing)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ExchangeError);
    expect(thrown).toBeInstanceOf(ExchangeError);
    expect(bad).toMatchObject({
      kind: 'not-found',
      cmdlet: 'Get-CASMailbox',
      status: 404,
      exchangeMessage: (thrown as ExchangeError).exchangeMessage,
    });
    expect(Array.isArray(good)).toBe(true);
    const unknownAlone = (await backend()
      .invoke('Get-Nothing')
      .catch((e: unknown) => e)) as ExchangeError;
    // Exchange hides cmdlets the caller has no role for ("is not recognized", 403): the same kind either way.
    expect(unknown).toMatchObject({ kind: unknownAlone.kind, status: 403, cmdlet: 'Get-Nothing' });
  });

  it('sends throttled and failed items again until each is answered', async () => {
    await emu.control.setKnobs({
      throttle: { every: 3, services: ['exchange'], retryAfterSeconds: 1 },
      faults: [{ service: 'exchange', call: 2, kind: '503' }],
    });
    const exo = backend();
    const calls = mailboxes.slice(0, 4).map((m) => ({ cmdlet: 'Get-CASMailbox', parameters: { Identity: m } }));
    const results = await exo.invokeMany(calls);
    for (const r of results) expect(Array.isArray(r)).toBe(true);
    const items = (await emu.control.log({ service: 'exchange' })).filter((e) => e.cmdlet === 'Get-CASMailbox');
    expect(items.some((e) => e.status === 503)).toBe(true);
    expect(items.some((e) => e.status === 429)).toBe(true);
    expect(items.filter((e) => e.status === 200)).toHaveLength(calls.length);
    expect(exo.requestCount).toBeGreaterThan(1);
  });

  it('gives up at the retry deadline with a throttled error per call', async () => {
    await emu.control.setKnobs({ throttle: { every: 1, services: ['exchange'], retryAfterSeconds: 1 } });
    const results = await backend({ retryDeadlineMs: 0 }).invokeMany([
      { cmdlet: 'Get-TransportConfig' },
      { cmdlet: 'Get-OrganizationConfig' },
    ]);
    expect(results).toEqual([expect.any(ExchangeError), expect.any(ExchangeError)]);
    expect(results.map((r) => (r as ExchangeError).kind)).toEqual(['throttled', 'throttled']);
  });

  it('readSmtpAuth reads the organization and every mailbox in one request', async () => {
    const exo = backend();
    const state = await readSmtpAuth(exo, mailboxes.slice(0, 3));
    expect(exo.requestCount).toBe(1);
    expect(state.organizationDisabled).toBe(true);
    expect(Object.keys(state.mailboxes)).toEqual(mailboxes.slice(0, 3));
  });

  it('coalesceReads batches the reads started together and sends writes on their own', async () => {
    const rest = backend();
    const exo = coalesceReads(rest);
    const [a, b, c] = await Promise.all([
      exo.invoke('Get-MailboxPermission', { Identity: mailboxes[0]! }),
      exo.invoke('Get-MailboxPermission', { Identity: mailboxes[1]! }),
      exo.invoke('Get-TransportConfig'),
    ]);
    expect([a, b, c].every(Array.isArray)).toBe(true);
    expect(rest.requestCount).toBe(1);
    await exo.invoke('Set-CASMailbox', { Identity: mailboxes[0]!, SmtpClientAuthenticationDisabled: null });
    expect(rest.requestCount).toBe(2);
    const log = await emu.control.log({ service: 'exchange' });
    expect(log.filter((e) => !isExchangeBatchItem(e)).map((e) => e.path.replace(/^.*\//, ''))).toEqual([
      '$batch',
      'InvokeCommand',
    ]);
    await expect(exo.invoke('Get-CASMailbox', { Identity: 'nobody@contoso.onmicrosoft.com' })).rejects.toMatchObject({
      kind: 'not-found',
    });
  });
});

/** A scripted admin API on plain HTTP, for answers the emulator never gives. */
describe('RestExchangeBackend.invokeMany against a scripted server', () => {
  let server: Server;
  let base: string;
  const dispatcher = new Agent();
  let handler: (path: string, body: Record<string, unknown>, res: ServerResponse) => void;
  const seen: string[] = [];

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const cmdletOf = (b: unknown): string => (b as { CmdletInput: { CmdletName: string } }).CmdletInput.CmdletName;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        seen.push(path.replace(/^.*\//, ''));
        handler(path, JSON.parse(data) as Record<string, unknown>, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/adminapi/beta`;
  });
  afterAll(async () => {
    await dispatcher.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterEach(() => {
    seen.length = 0;
  });

  const backend = (): RestExchangeBackend =>
    new RestExchangeBackend({
      credential: staticCredential(() => 'token'),
      adminUrl: base,
      scope: 'https://outlook.office365.com/.default',
      tenantId: '00000000-0000-0000-0000-000000000001',
      dispatcher,
      sleep: async () => undefined,
    });

  it('follows an item’s nextLink by re-POSTing the same body to InvokeCommand', async () => {
    handler = (path, body, res) => {
      if (path.endsWith('/$batch')) {
        const requests = body.requests as Array<{ id: string; body: unknown }>;
        return send(res, 200, {
          responses: requests.map((r) => ({
            id: r.id,
            status: 200,
            body:
              cmdletOf(r.body) === 'Get-Mailbox'
                ? { value: [{ n: 1 }], '@odata.nextLink': `${base}/t/InvokeCommand?$skiptoken=p2` }
                : { value: [{ other: true }] },
          })),
        });
      }
      expect(cmdletOf(body)).toBe('Get-Mailbox');
      send(res, 200, { value: [{ n: 2 }] });
    };
    const exo = backend();
    const results = await exo.invokeMany([{ cmdlet: 'Get-Mailbox' }, { cmdlet: 'Get-TransportConfig' }]);
    expect(results).toEqual([[{ n: 1 }, { n: 2 }], [{ other: true }]]);
    expect(seen).toEqual(['$batch', 'InvokeCommand']);
  });

  it('sends again the items a batch left unanswered (a service that stopped early)', async () => {
    let round = 0;
    handler = (_path, body, res) => {
      round += 1;
      const requests = body.requests as Array<{ id: string; body: unknown }>;
      const answered = round === 1 ? requests.slice(0, 1) : requests;
      send(res, 200, {
        responses: answered.map((r) => ({ id: r.id, status: 200, body: { value: [cmdletOf(r.body)] } })),
      });
    };
    const results = await backend().invokeMany([{ cmdlet: 'Get-A' }, { cmdlet: 'Get-B' }, { cmdlet: 'Get-C' }]);
    expect(results).toEqual([['Get-A'], ['Get-B'], ['Get-C']]);
    expect(seen).toEqual(['$batch', '$batch']);
  });

  it('goes one by one when the endpoint does not take $batch', async () => {
    handler = (path, body, res) => {
      if (path.endsWith('/$batch')) return send(res, 404, { error: { code: 'NotFound', message: 'no such resource' } });
      send(res, 200, { value: [cmdletOf(body)] });
    };
    const exo = backend();
    expect(await exo.invokeMany([{ cmdlet: 'Get-A' }, { cmdlet: 'Get-B' }])).toEqual([['Get-A'], ['Get-B']]);
    expect(await exo.invokeMany([{ cmdlet: 'Get-C' }, { cmdlet: 'Get-D' }])).toEqual([['Get-C'], ['Get-D']]);
    // The refusal is remembered: the second round does not try $batch again.
    expect(seen).toEqual(['$batch', 'InvokeCommand', 'InvokeCommand', 'InvokeCommand', 'InvokeCommand']);
  });

  it('fails every call of a batch the operator may not send (401), without retrying', async () => {
    handler = (_path, _body, res) =>
      send(res, 401, { error: { code: 'Unauthorized', message: 'The token is expired.' } });
    const results = await backend().invokeMany([{ cmdlet: 'Get-A' }, { cmdlet: 'Get-B' }]);
    expect(results.map((r) => (r as ExchangeError).kind)).toEqual(['access-denied', 'access-denied']);
    expect(seen).toEqual(['$batch']);
  });
});

/** A backend that records what it is asked, for the coalescing layer. */
class FakeBackend implements ExchangeBackend {
  readonly name = 'pwsh' as const;
  requestCount = 0;
  readonly log: string[] = [];
  constructor(withMany: boolean) {
    if (!withMany) this.invokeMany = undefined;
  }
  async invoke<T>(cmdlet: string, parameters?: CmdletParameters): Promise<T[]> {
    this.requestCount += 1;
    this.log.push(`invoke ${cmdlet}`);
    await new Promise((r) => setTimeout(r, 1));
    if (cmdlet === 'Get-Missing') throw new ExchangeError(cmdlet, 'not-found', 'not there');
    return [{ cmdlet, parameters }] as T[];
  }
  invokeMany?: (calls: ExchangeCall[]) => Promise<Array<unknown[] | ExchangeError>> = async (calls) => {
    this.requestCount += 1;
    this.log.push(`many ${calls.map((c) => c.cmdlet).join(',')}`);
    return calls.map((c) =>
      c.cmdlet === 'Get-Missing' ? new ExchangeError(c.cmdlet, 'not-found', 'not there') : [{ cmdlet: c.cmdlet }],
    );
  };
  async close(): Promise<void> {}
}

describe('coalesceReads and invokeAll over any backend', () => {
  it('gathers the reads of one turn into one invokeMany; an error reaches only its own caller', async () => {
    const inner = new FakeBackend(true);
    const exo = coalesceReads(inner);
    const settled = await Promise.allSettled([
      exo.invoke('Get-A'),
      exo.invoke('Test-B'),
      exo.invoke('Get-Missing'),
      exo.invoke('Set-C'),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ kind: 'not-found' });
    expect(inner.log).toEqual(['invoke Set-C', 'many Get-A,Test-B,Get-Missing']);
    // Reads of a later turn make a new batch; a lone read goes as itself.
    await exo.invoke('Get-D');
    expect(inner.log.at(-1)).toBe('invoke Get-D');
    expect(exo.requestCount).toBe(inner.requestCount);
    expect(exo.name).toBe(inner.name);
  });

  it('leaves a backend without invokeMany as it is, and invokeAll then goes one call after another', async () => {
    const inner = new FakeBackend(false);
    expect(coalesceReads(inner)).toBe(inner);
    const results = await invokeAll(inner, [{ cmdlet: 'Get-A' }, { cmdlet: 'Get-Missing' }, { cmdlet: 'Get-B' }]);
    expect(inner.log).toEqual(['invoke Get-A', 'invoke Get-Missing', 'invoke Get-B']);
    expect(results[1]).toBeInstanceOf(ExchangeError);
    expect(results[2]).toEqual([{ cmdlet: 'Get-B', parameters: undefined }]);
  });
});
