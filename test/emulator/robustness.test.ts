/**
 * Malformed input must not break the emulator: raw HTTP over TLS with a Host header or target that is no URL,
 * knob values of the wrong shape on the control endpoint, and a flood of unauthenticated device-code requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { MAX_REMEMBERED_CODES } from '../../src/emulator/token/device-code.js';

/** Sends raw bytes over TLS to the emulator and answers the status line of the reply ('' if it closed silently). */
function raw(emu: TestEmulator, bytes: string): Promise<string> {
  const url = new URL(emu.endpoints.authorityHost);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: Number(url.port), ca: emu.ca, servername: 'localhost' }, () =>
      socket.write(bytes),
    );
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy());
  });
}

describe('robustness', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  const stillServes = async (): Promise<void> => {
    const res = await emu.request('/common/discovery/instance?api-version=1.1');
    expect(res.status).toBeLessThan(500);
    await res.arrayBuffer();
  };

  for (const [name, request] of [
    ['Host: a b', 'GET /v1.0/organization HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n'],
    ['Host: [', 'GET /v1.0/organization HTTP/1.1\r\nHost: [\r\nConnection: close\r\n\r\n'],
    ['Host: localhost:99999', 'GET /v1.0/organization HTTP/1.1\r\nHost: localhost:99999\r\nConnection: close\r\n\r\n'],
    ['GET http://[x/', 'GET http://[x/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
    ['a request line that is no HTTP', 'HELLO THERE\r\n\r\n'],
  ] as const)
    it(`answers 400 to ${name} and keeps serving`, async () => {
      expect(await raw(emu, request)).toMatch(/^HTTP\/1\.1 400 /);
      await stillServes();
    });

  it('refuses knob values of the wrong shape with 400 and changes nothing', async () => {
    const before = await emu.control.knobs();
    for (const patch of [
      { faults: [null] },
      { faults: [{ service: 'graph', call: 0, kind: '503' }] },
      { faults: 'all' },
      { latency: { graph: -1 } },
      { latency: { nope: 5 } },
      { throttle: { every: 'often' } },
      { throttle: { services: ['mail'] } },
      { replicationDelayMs: '5' },
      { smtpLimits: { concurrentConnectionsPerMailbox: 1.5 } },
      { consent: 'maybe' },
      { unknownKnob: 1 },
    ]) {
      const res = await emu.request('/_emulator/knobs', {
        method: 'PATCH',
        headers: { 'X-Emulator-Key': emu.endpoints.operator.clientSecret },
        json: patch,
      });
      expect(res.status, JSON.stringify(patch)).toBe(400);
      expect(((await res.json()) as { error: { message: unknown } }).error.message).toEqual(expect.any(String));
    }
    const notObject = await emu.request('/_emulator/knobs', {
      method: 'PATCH',
      headers: { 'X-Emulator-Key': emu.endpoints.operator.clientSecret },
      json: [1, 2],
    });
    expect(notObject.status).toBe(400);
    expect(await emu.control.knobs()).toEqual(before);
    // Later requests are served as before.
    const res = await emu.request('/v1.0/applications', {
      token: emu.mintAppToken('contoso.onmicrosoft.com', emu.endpoints.operator.clientId, 'graph'),
    });
    expect(res.status).toBe(200);
  });

  it('keeps at most a bounded number of device codes however many unauthenticated requests start one', async () => {
    const form = new URLSearchParams({
      client_id: '14d82eec-204b-4c2f-b7e8-296a70dab67e',
      scope: 'https://graph.microsoft.com/.default',
    });
    const start = (): Promise<Response> =>
      emu.request('/organizations/oauth2/v2.0/devicecode', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
    const first = await start();
    expect(first.status).toBe(200);
    expect(((await first.json()) as { expires_in: number }).expires_in).toBe(900);
    for (let i = 0; i < MAX_REMEMBERED_CODES + 50; i++) await (await start()).arrayBuffer();
    expect(emu.store.world.deviceCodes.length).toBeLessThanOrEqual(MAX_REMEMBERED_CODES);
    emu.store.flush();
    const persisted = JSON.parse(readFileSync(path.join(emu.stateDir, 'state.json'), 'utf8'));
    expect(persisted.deviceCodes.length).toBeLessThanOrEqual(MAX_REMEMBERED_CODES);
  }, 60_000);
});
