/**
 * Guarantee 3 for the SMTP proof: connecting, the greeting and every reply are bounded by the timeout; a reset, a
 * 4xx greeting or a 4xx AUTH reply before anything was sent is tried again a bounded number of times, and the
 * result says what was retried; a hang ends with a sentence naming the server, the timeout and --timeout; a 5xx
 * is final. Against the emulator's SMTP service (its AUTH faults), with a loopback proxy in front of it for faults
 * of the connection itself. The app is made ready through the product's own Graph and Exchange clients.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { startFaultProxy, type ConnectionFault, type FaultProxy } from '../helpers/fault-proxy.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import {
  createAppCredential,
  createDispatcher,
  loadEndpointsFile,
  signInOperator,
  type CloudProfile,
  type RequestEvent,
} from '../../src/auth/index.js';
import { GraphApi } from '../../src/entra/index.js';
import { RestExchangeBackend } from '../../src/exchange/index.js';
import { probeSmtp, type SmtpProbeOptions } from '../../src/smtp/index.js';

const CONTOSO = 'contoso.onmicrosoft.com';
const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;
const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';

describe('SMTP proof bounds', () => {
  let emu: TestEmulator;
  let profile: CloudProfile;
  let token: string;
  let proxy: FaultProxy | undefined;

  /** The operator app gets what the proof needs on SCANNER: SMTP.SendAsApp, its Exchange SP, FullAccess. */
  async function makeReady(): Promise<void> {
    const { tenantId, clientId, clientSecret } = emu.endpoints.operator;
    const credential = signInOperator({ profile, tenant: tenantId, isTty: false, prompt: () => undefined }).credential;
    const dispatcher = createDispatcher(profile);
    const graph = new GraphApi({ credential, profile, tenant: tenantId, dispatcher });
    type Sp = { id: string; appRoles: Array<{ id: string; value: string }> };
    const own = (await graph.get<Sp>(`/servicePrincipals(appId='${clientId}')`)).body!;
    const exo = (await graph.get<Sp>(`/servicePrincipals(appId='${EXCHANGE_APP_ID}')`)).body!;
    await graph.request('POST', `/servicePrincipals/${exo.id}/appRoleAssignedTo`, {
      principalId: own.id,
      resourceId: exo.id,
      appRoleId: exo.appRoles.find((r) => r.value === 'SMTP.SendAsApp')!.id,
    });
    const exchange = new RestExchangeBackend({
      credential,
      adminUrl: profile.exchangeAdminUrl,
      scope: profile.exchangeScope,
      tenantId,
      dispatcher,
    });
    await exchange.invoke('New-ServicePrincipal', { AppId: clientId, ObjectId: own.id });
    await exchange.invoke('Add-MailboxPermission', { Identity: SCANNER, User: own.id, AccessRights: ['FullAccess'] });
    await exchange.invoke('Set-CASMailbox', { Identity: SCANNER, SmtpClientAuthenticationDisabled: false });
    const app = createAppCredential({
      profile,
      tenantId,
      appId: clientId,
      credential: { type: 'secret', value: clientSecret },
    });
    token = (await app.getToken(profile.exchangeScope))!.token;
    await dispatcher.close();
  }

  beforeAll(async () => {
    emu = await startTestEmulator();
    profile = loadEndpointsFile(emu.endpointsFile);
    await makeReady();
  });
  afterAll(async () => emu.close());
  beforeEach(async () => emu.control.setKnobs({ throttle: defaultKnobs().throttle, faults: [] }));
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  const probe = (o: Partial<SmtpProbeOptions> = {}) =>
    probeSmtp({
      host: profile.smtp.host,
      port: profile.smtp.port,
      ca: profile.caPem,
      mailbox: SCANNER,
      accessToken: token,
      retryBaseMs: 10,
      ...o,
    });
  const throughProxy = async (plan: ConnectionFault[], o: Partial<SmtpProbeOptions> = {}) => {
    proxy = await startFaultProxy(profile.smtp, plan);
    return probe({ host: proxy.host, port: proxy.port, ...o });
  };

  it('passes at once when nothing fails, and reports the AUTH reply without the token', async () => {
    const events: RequestEvent[] = [];
    const r = await probe({ onRequest: (e) => events.push(e) });
    expect(r).toMatchObject({ ok: true, stage: 'done', attempts: 1, retried: [] });
    expect(r.reply).toMatch(/^235 2\.7\.0 Authentication successful/);
    expect(events).toEqual([expect.objectContaining({ service: 'smtp', method: 'AUTH XOAUTH2', status: 235 })]);
    expect(JSON.stringify(events)).not.toContain(token.slice(-20));
  });

  it('tries again after a connection reset before the greeting, and says so', async () => {
    const r = await throughProxy(['reset']);
    expect(r).toMatchObject({ ok: true, stage: 'done', attempts: 2 });
    expect(r.retried).toHaveLength(1);
    expect(r.retried[0]).toMatch(/^connect: /);
    expect(proxy!.connections).toBe(2);
  });

  it('tries again after a 421 greeting (server busy)', async () => {
    const r = await throughProxy([{ reply: '421 4.3.2 Service not available' }]);
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(r.retried[0]).toMatch(/^connect: 421 4\.3\.2/);
  });

  it('tries again after a 4xx AUTH reply and after a reset during AUTH', async () => {
    await emu.control.setKnobs({
      faults: [
        { service: 'smtp', call: 1, kind: '503' },
        { service: 'smtp', call: 2, kind: 'reset' },
      ],
    });
    const r = await probe();
    expect(r).toMatchObject({ ok: true, stage: 'done', attempts: 3 });
    expect(r.retried[0]).toMatch(/^auth: 421 4\.3\.2/);
    expect(r.retried[1]).toMatch(/^auth: /);
  });

  it('gives up after the bounded number of tries, with the last failure', async () => {
    const r = await throughProxy(['reset', 'reset', 'reset', 'reset'], { attempts: 3 });
    expect(r).toMatchObject({ ok: false, stage: 'connect', attempts: 3 });
    expect(r.retried).toHaveLength(2);
    expect(proxy!.connections).toBe(3);
  });

  it('ends a server that never greets with a sentence naming it, the timeout and --timeout', async () => {
    const r = await throughProxy(['hang'], { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, stage: 'connect', attempts: 1 });
    expect(r.reply).toMatch(
      /^the SMTP server 127\.0\.0\.1:\d+ did not answer the connection \(greeting, EHLO, STARTTLS\) within 300 ms; .*--timeout/,
    );
  });

  it('ends a hang after AUTH the same way, without trying again', async () => {
    await emu.control.setKnobs({ faults: [{ service: 'smtp', call: 1, kind: 'hang' }] });
    const r = await probe({ timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, stage: 'auth', attempts: 1 });
    expect(r.reply).toMatch(/did not answer AUTH XOAUTH2 within 300 ms; .*--timeout/);
  });

  it('stops at once when the run is cancelled while the server hangs', async () => {
    const ac = new AbortController();
    const pending = throughProxy(['hang'], { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('interrupted by SIGTERM')), 100);
    await expect(pending).rejects.toThrow('interrupted by SIGTERM');
  });

  it('never repeats a 5xx (535 on a mailbox the app may not use)', async () => {
    const r = await probe({ mailbox: AP });
    expect(r).toMatchObject({ ok: false, stage: 'auth', attempts: 1, retried: [] });
    expect(r.reply).toMatch(/^535 5\.7\./);
  });

  it('sends the test message once, reported as SEND', async () => {
    const events: RequestEvent[] = [];
    const r = await probe({ sendTo: AP, onRequest: (e) => events.push(e) });
    expect(r).toMatchObject({ ok: true, stage: 'done', attempts: 1 });
    expect(events.map((e) => [e.method, e.status])).toEqual([
      ['AUTH XOAUTH2', 235],
      ['SEND', 250],
    ]);
    // The emulator files a message under its sender.
    expect((await emu.control.messages(SCANNER)).map((m) => m.rcptTo)).toEqual([[AP]]);
  });
});
