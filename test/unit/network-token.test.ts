/**
 * Guarantee 3 for the token service: every token request of the operator and of the app is bounded by the
 * response timeout, resets and 429/5xx answers are retried within the deadline (Retry-After honoured), an AADSTS
 * refusal is final, and a hang ends with a sentence naming the service, the timeout and --timeout. Against the
 * emulator's token service, through @azure/identity.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import {
  createAppCredential,
  fetchRetrying,
  loadEndpointsFile,
  signInOperator,
  ServiceUnreachableError,
  type CloudProfile,
  type NetworkBounds,
  type RequestEvent,
} from '../../src/auth/index.js';

const CONTOSO = 'contoso.onmicrosoft.com';
const GRAPH = 'https://graph.microsoft.com/.default';

describe('token service bounds', () => {
  let emu: TestEmulator;
  let profile: CloudProfile;

  beforeAll(async () => {
    emu = await startTestEmulator();
    profile = loadEndpointsFile(emu.endpointsFile);
  });
  afterAll(async () => emu.close());
  beforeEach(async () => {
    await emu.control.setKnobs({ throttle: defaultKnobs().throttle, faults: [] });
    await emu.control.clearLog();
  });

  const operator = (bounds: NetworkBounds) =>
    signInOperator({ profile, tenant: CONTOSO, isTty: false, prompt: () => undefined, bounds }).credential;
  const tokenCalls = async () => (await emu.control.log({ service: 'token' })).filter((e) => e.method === 'POST');

  it('retries a 503 and a reset of the token request, and reports every request', async () => {
    const events: RequestEvent[] = [];
    await emu.control.setKnobs({
      faults: [
        { service: 'token', call: 2, kind: '503' },
        { service: 'token', call: 3, kind: 'reset' },
      ],
    });
    const t = await operator({ retryBaseMs: 20, onRequest: (e) => events.push(e) }).getToken(GRAPH, {
      tenantId: CONTOSO,
    });
    expect(t?.token).toMatch(/^ey/);
    expect((await tokenCalls()).map((e) => e.status)).toEqual([503, 0, 200]);
    expect(events.map((e) => [e.service, e.method, e.status])).toEqual([
      ['token', 'GET', 200],
      ['token', 'POST', 503],
      ['token', 'POST', 'ECONNRESET'],
      ['token', 'POST', 200],
    ]);
    // The log names the path, never a query value, header or body.
    expect(events[1]!.target).toBe('/contoso.onmicrosoft.com/oauth2/v2.0/token?client-request-id=…');
    expect(JSON.stringify(events)).not.toContain(emu.endpoints.operator.clientSecret);
  });

  it('honours Retry-After on a 429 from the token service', async () => {
    await emu.control.setKnobs({ throttle: { every: 2, retryAfterSeconds: 1, services: ['token'] } });
    const delays: number[] = [];
    const t = await operator({ retryBaseMs: 20, onRetry: (_what, ms) => delays.push(ms) }).getToken(GRAPH, {
      tenantId: CONTOSO,
    });
    expect(t?.token).toMatch(/^ey/);
    expect((await tokenCalls()).map((e) => e.status)).toEqual([429, 200]);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(1000);
  });

  it('ends a hang with a sentence naming the service, the timeout and --timeout', async () => {
    await emu.control.setKnobs({ faults: [{ service: 'token', call: 2, kind: 'hang' }] });
    const events: RequestEvent[] = [];
    const err = await operator({ timeoutMs: 300, onRequest: (e) => events.push(e) })
      .getToken(GRAPH, { tenantId: CONTOSO })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnreachableError);
    expect((err as Error).message).toMatch(
      /^the token service at https:\/\/[^ ]+ did not answer POST \/contoso\.onmicrosoft\.com\/oauth2\/v2\.0\/token within 300 ms; .*--timeout/,
    );
    expect(events.at(-1)?.status).toBe('timeout');
  });

  it('gives up on a service that keeps failing once the retry deadline has passed', async () => {
    await emu.control.setKnobs({
      faults: Array.from({ length: 30 }, (_, i) => ({
        service: 'token' as const,
        call: i + 2,
        kind: 'reset' as const,
      })),
    });
    const err = await operator({ retryBaseMs: 10, retryDeadlineMs: 200 })
      .getToken(GRAPH, { tenantId: CONTOSO })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnreachableError);
    expect((err as Error).message).toMatch(
      /^the token service at https:\/\/\S+ could not be reached for POST .*ECONNRESET/,
    );
    const posts = (await tokenCalls()).length;
    expect(posts).toBeGreaterThan(1);
    expect(posts).toBeLessThan(30);
  });

  it('never retries an AADSTS refusal (a wrong app secret)', async () => {
    const app = createAppCredential({
      profile,
      tenantId: emu.endpoints.operator.tenantId,
      appId: emu.endpoints.operator.clientId,
      credential: { type: 'secret', value: 'not-the-secret' },
      bounds: { retryBaseMs: 10 },
    });
    await expect(app.getToken(profile.exchangeScope)).rejects.toThrow(/AADSTS7000215/);
    expect((await tokenCalls()).map((e) => e.status)).toEqual([401]);
  });

  it('the app credential is bounded like the operator: a 503 is retried, then the token comes', async () => {
    await emu.control.setKnobs({ faults: [{ service: 'token', call: 2, kind: '503' }] });
    const events: RequestEvent[] = [];
    const app = createAppCredential({
      profile,
      tenantId: emu.endpoints.operator.tenantId,
      appId: emu.endpoints.operator.clientId,
      credential: { type: 'secret', value: emu.endpoints.operator.clientSecret },
      bounds: { retryBaseMs: 10, onRequest: (e) => events.push(e) },
    });
    expect((await app.getToken(profile.exchangeScope))?.token).toMatch(/^ey/);
    expect(events.filter((e) => e.method === 'POST').map((e) => e.status)).toEqual([503, 200]);
  });

  it('the sign-in metadata fetch (fetchRetrying) retries a 503 and ends a hang with the sentence', async () => {
    const url = `${profile.authorityHost}/${CONTOSO}/v2.0/.well-known/openid-configuration`;
    const events: RequestEvent[] = [];
    const get = () =>
      fetchRetrying(
        url,
        {},
        {
          service: 'token',
          where: profile.authorityHost,
          dispatcher: emu.dispatcher,
          timeoutMs: 300,
          retryBaseMs: 10,
          onRequest: (e) => events.push(e),
        },
      );
    await emu.control.setKnobs({ faults: [{ service: 'token', call: 1, kind: '503' }] });
    const ok = await get();
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).token_endpoint).toMatch(/oauth2\/v2\.0\/token$/);
    expect(events.map((e) => e.status)).toEqual([503, 200]);
    await emu.control.setKnobs({ faults: [{ service: 'token', call: 1, kind: 'hang' }] });
    await expect(get()).rejects.toThrow(
      /^the token service at https:\/\/\S+ did not answer GET \/contoso\.onmicrosoft\.com\/v2\.0\/\.well-known\/openid-configuration within 300 ms/,
    );
  });

  it('stops waiting for a hung token request when the run is cancelled', async () => {
    await emu.control.setKnobs({ faults: [{ service: 'token', call: 2, kind: 'hang' }] });
    const ac = new AbortController();
    const pending = operator({ signal: ac.signal }).getToken(GRAPH, { tenantId: CONTOSO });
    setTimeout(() => ac.abort(new Error('interrupted by SIGINT')), 100);
    await expect(pending).rejects.toThrow('interrupted by SIGINT');
  });
});
