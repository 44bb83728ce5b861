/**
 * Guarantees 3 and 4 for Graph and the Exchange admin API: each request bounded by the response timeout (a hang
 * ends with a sentence naming the service, the timeout and --timeout, and is not repeated), transient failures
 * retried through the poller (a POST only where a repeat is harmless), Retry-After honoured, one RequestEvent per
 * request and per batched cmdlet; and no profile with an http:// service URL is ever loaded. Against the emulator
 * (its fault knobs), through the product's clients.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Agent } from 'undici';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import { ConfigError } from '../../src/config/index.js';
import {
  createDispatcher,
  loadEndpointsFile,
  resolveCloud,
  signInOperator,
  ServiceUnreachableError,
  type CloudProfile,
  type NetworkBounds,
  type RequestEvent,
} from '../../src/auth/index.js';
import { GraphApi, GraphNetworkError, GraphRequestError } from '../../src/entra/index.js';
import { ExchangeError, RestExchangeBackend } from '../../src/exchange/index.js';

describe('Graph and Exchange bounds', () => {
  let emu: TestEmulator;
  let profile: CloudProfile;
  let tenantId: string;
  let dispatcher: Agent;
  let events: RequestEvent[];

  beforeAll(async () => {
    emu = await startTestEmulator();
    profile = loadEndpointsFile(emu.endpointsFile);
    tenantId = emu.endpoints.operator.tenantId;
  });
  afterAll(async () => emu.close());
  beforeEach(async () => {
    events = [];
    dispatcher = createDispatcher(profile, { timeoutMs: 300 });
    await emu.control.setKnobs({ throttle: defaultKnobs().throttle, faults: [] });
  });
  afterEach(async () => dispatcher.close());

  const bounds = (o: NetworkBounds = {}): NetworkBounds => ({
    timeoutMs: 300,
    retryBaseMs: 10,
    onRequest: (e) => events.push(e),
    ...o,
  });
  /** The operator's credential, its token fetched before the test's faults are set. */
  const operator = async () => {
    const { credential } = signInOperator({ profile, tenant: tenantId, isTty: false, prompt: () => undefined });
    await credential.getToken([profile.graphScope], { tenantId });
    await credential.getToken([profile.exchangeScope], { tenantId });
    return credential;
  };
  const graph = async (o: NetworkBounds = {}) =>
    new GraphApi({ credential: await operator(), profile, tenant: tenantId, dispatcher, ...bounds(o) });
  const exchange = async (o: NetworkBounds = {}) =>
    new RestExchangeBackend({
      credential: await operator(),
      adminUrl: profile.exchangeAdminUrl,
      scope: profile.exchangeScope,
      tenantId,
      dispatcher,
      ...bounds(o),
    });
  const wire = async (service: string) => {
    const log = await emu.control.log({ service });
    return log.filter((e) => !e.path.includes('$batch/')).map((e) => e.status);
  };

  describe('Graph', () => {
    it('retries a 503 and a reset of a GET, and reports each request without query values', async () => {
      const g = await graph();
      await emu.control.clearLog();
      await emu.control.setKnobs({
        faults: [
          { service: 'graph', call: 1, kind: '503' },
          { service: 'graph', call: 2, kind: 'reset' },
        ],
      });
      const r = await g.get<{ value: unknown[] }>(`/applications?$filter=displayName eq 'Finance'`);
      expect(r.status).toBe(200);
      expect(await wire('graph')).toEqual([503, 0, 200]);
      expect(events.map((e) => e.status)).toEqual([503, expect.any(String), 200]);
      expect(events.every((e) => e.service === 'graph' && e.method === 'GET')).toBe(true);
      expect(events[0]!.target).toBe('/applications?$filter=…');
    });

    it('does not repeat a POST after a 503 (it may have taken effect)', async () => {
      const g = await graph();
      await emu.control.clearLog();
      await emu.control.setKnobs({ faults: [{ service: 'graph', call: 1, kind: '503' }] });
      const err = await g.request('POST', '/applications', { displayName: 'once' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GraphRequestError);
      expect((err as GraphRequestError).status).toBe(503);
      expect(await wire('graph')).toEqual([503]);
    });

    it('honours Retry-After on a 429, for a POST too', async () => {
      const credential = await operator();
      await emu.control.clearLog();
      await emu.control.setKnobs({ throttle: { every: 1, retryAfterSeconds: 1, services: ['graph'] } });
      const delays: number[] = [];
      const pending = new GraphApi({
        credential,
        profile,
        tenant: tenantId,
        dispatcher,
        ...bounds({ onRetry: (_what, ms) => delays.push(ms) }),
        sleep: async () => {
          await emu.control.setKnobs({ throttle: defaultKnobs().throttle });
        },
      }).request('POST', '/applications', { displayName: 'throttled once' });
      await expect(pending).resolves.toMatchObject({ status: 201 });
      expect(delays).toEqual([1000]);
      expect(await wire('graph')).toEqual([429, 201]);
    });

    it('ends a hang with a sentence naming Graph, the timeout and --timeout, and does not repeat it', async () => {
      const g = await graph();
      await emu.control.clearLog();
      await emu.control.setKnobs({ faults: [{ service: 'graph', call: 1, kind: 'hang' }] });
      const err = await g.get('/applications').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GraphNetworkError);
      expect((err as Error).message).toMatch(
        /^Microsoft Graph at https:\/\/\S+ did not answer GET \/applications within 300 ms; .*--timeout/,
      );
      expect(await wire('graph')).toEqual([0]);
      expect(events.map((e) => e.status)).toEqual(['timeout']);
    });

    it('passes a token-service failure through as it is (Graph was never asked)', async () => {
      const { credential } = signInOperator({
        profile,
        tenant: tenantId,
        isTty: false,
        prompt: () => undefined,
        bounds: { timeoutMs: 300 },
      });
      await emu.control.clearLog();
      await emu.control.setKnobs({ faults: [{ service: 'token', call: 2, kind: 'hang' }] });
      const g = new GraphApi({ credential, profile, tenant: tenantId, dispatcher, ...bounds() });
      const err = await g.get('/applications').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceUnreachableError);
      expect((err as Error).message).toMatch(/^the token service at https:\/\/\S+ did not answer .*--timeout/);
      expect(await wire('graph')).toEqual([]);
    });
  });

  describe('Exchange admin API', () => {
    it('ends a hung cmdlet with a sentence naming the service, the timeout and --timeout', async () => {
      const exo = await exchange();
      await emu.control.clearLog();
      await emu.control.setKnobs({ faults: [{ service: 'exchange', call: 1, kind: 'hang' }] });
      const err = await exo.invoke('Get-OrganizationConfig').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExchangeError);
      expect((err as Error).message).toMatch(
        /the Exchange admin API at https:\/\/\S+ did not answer Get-OrganizationConfig within 300 ms; .*--timeout/,
      );
      expect(await wire('exchange')).toEqual([0]);
      expect(events).toEqual([expect.objectContaining({ target: 'Get-OrganizationConfig', status: 'timeout' })]);
    });

    it('retries a reset and a 503 of a cmdlet', async () => {
      const exo = await exchange();
      await emu.control.clearLog();
      await emu.control.setKnobs({
        faults: [
          { service: 'exchange', call: 1, kind: 'reset' },
          { service: 'exchange', call: 2, kind: '503' },
        ],
      });
      const rows = await exo.invoke('Get-OrganizationConfig');
      expect(rows).toHaveLength(1);
      expect(await wire('exchange')).toEqual([0, 503, 200]);
      expect(events.map((e) => e.status)).toEqual([expect.any(String), 503, 200]);
    });

    it('reports every cmdlet of a $batch as its own event', async () => {
      const exo = await exchange();
      await exo.invokeMany([
        { cmdlet: 'Get-OrganizationConfig' },
        { cmdlet: 'Get-TransportConfig' },
        { cmdlet: 'Get-CASMailbox', parameters: { Identity: `scanner@contoso.onmicrosoft.com` } },
      ]);
      expect(exo.requestCount).toBe(1);
      expect(events.map((e) => [e.target, e.status, e.batched])).toEqual([
        ['Get-OrganizationConfig', 200, true],
        ['Get-TransportConfig', 200, true],
        ['Get-CASMailbox', 200, true],
      ]);
    });

    it('ends a hung $batch with the same sentence for each of its cmdlets', async () => {
      const exo = await exchange();
      await emu.control.clearLog();
      await emu.control.setKnobs({ faults: [{ service: 'exchange', call: 1, kind: 'hang' }] });
      const results = await exo.invokeMany([{ cmdlet: 'Get-OrganizationConfig' }, { cmdlet: 'Get-TransportConfig' }]);
      expect(results.map((r) => (r as ExchangeError).cmdlet)).toEqual([
        'Get-OrganizationConfig',
        'Get-TransportConfig',
      ]);
      for (const r of results)
        expect((r as Error).message).toMatch(/did not answer \$batch of 2 cmdlets within 300 ms/);
      expect(events.map((e) => [e.target, e.status])).toEqual([
        ['Get-OrganizationConfig', 'timeout'],
        ['Get-TransportConfig', 'timeout'],
      ]);
    });
  });

  describe('https only', () => {
    const endpointsWith = (change: Record<string, string>): string => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-endpoints-'));
      const file = path.join(dir, 'endpoints.json');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(emu.endpointsFile, 'utf8')), ...change }));
      return file;
    };

    for (const key of ['authorityHost', 'graphBaseUrl', 'exchangeAdminUrl'] as const) {
      it(`refuses an endpoints file whose ${key} is http://, before any request`, async () => {
        await emu.control.clearLog();
        const file = endpointsWith({ [key]: emu.endpoints[key].replace(/^https:/, 'http:') });
        const err = (() => {
          try {
            resolveCloud({ cloud: 'global', endpoints: file });
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).field).toBe('--endpoints');
        expect((err as Error).message).toMatch(new RegExp(`${key} must be an https:// URL, not http://`));
        expect(await emu.control.log()).toEqual([]);
      });
    }

    it('the CLI refuses such a file with exit 2 and sends nothing (no token goes out in clear text)', async () => {
      await emu.control.clearLog();
      const file = endpointsWith({ exchangeAdminUrl: emu.endpoints.exchangeAdminUrl.replace(/^https:/, 'http:') });
      const r = await runCli([
        'plan',
        '--endpoints',
        file,
        '--tenant',
        'contoso.onmicrosoft.com',
        '--mailbox',
        'scanner@contoso.onmicrosoft.com',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--endpoints: .*exchangeAdminUrl must be an https:\/\/ URL/);
      expect(await emu.control.log()).toEqual([]);
    });

    it('accepts the emulator’s own https endpoints file', () => {
      expect(resolveCloud({ cloud: 'global', endpoints: emu.endpointsFile }).exchangeAdminUrl).toMatch(/^https:/);
    });
  });
});
