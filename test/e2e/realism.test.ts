/**
 * End to end with every realism knob of the emulator on at once: directory replication delay, Exchange's
 * permission cache, throttling of every 7th Graph and Exchange call (429 + Retry-After), one injected Graph 503
 * and one Exchange 503, and some latency. apply must still converge, create each object once, and show that it
 * waited for the permission cache (535 5.7.3 retried).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO,
  Runs,
  SMTP_SEND_AS_APP,
  appsByName,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  footprint,
  readJson,
  sinkSecrets,
  tempDir,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('realism knobs all on: replication, permission cache, throttling, 503s, latency', () => {
  let emu: TestEmulator;
  let dir: string;
  let first: CliResult;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER, AP],
      appName: 'Realistic Sender',
      secretOut: secretFile(),
      wait: '2m',
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-realism-');
    await emu.control.setKnobs({
      latency: { token: 5, graph: 5, exchange: 8, smtp: 3 },
      replicationDelayMs: 1500,
      // Exchange's cache lasts 30 min to 2 h; here a few seconds, longer than apply needs after the FullAccess
      // grant (about 3 s with the replication waits), so that the proof meets 535 5.7.3 and must retry.
      permissionCacheSeconds: 6,
      throttle: { every: 7, retryAfterSeconds: 1, services: ['graph', 'exchange'] },
      faults: [
        { service: 'graph', call: 3, kind: '503' },
        { service: 'exchange', call: 2, kind: '503' },
      ],
    });
    await emu.control.clearLog();
    // The proof's retries keep their product pacing (first retry after 5 s): slower, never timed here.
    first = await runs.run(args(), { timeoutMs: 150_000 });
  }, 170_000);
  afterAll(async () => emu?.close());

  it('converges: exit 0 and the proof passes', () => {
    const out = expectPassed(first);
    expect(out.resources.every((r: any) => ['created', 'updated', 'unchanged'].includes(r.status))).toBe(true);
  });

  it('met every knob on the way: 429s, a Graph 503 and an Exchange 503 were answered and retried', async () => {
    const log = await emu.control.log();
    const graph = log.filter((e) => e.service === 'graph');
    const exchange = log.filter((e) => e.service === 'exchange');
    expect(graph.some((e) => e.status === 429)).toBe(true);
    expect(exchange.some((e) => e.status === 429)).toBe(true);
    expect(graph.some((e) => e.status === 503)).toBe(true);
    expect(exchange.some((e) => e.status === 503)).toBe(true);
  });

  it('retried 535 5.7.3 visibly while the permission cache caught up', () => {
    expect(first.stderr).toMatch(/not yet: .*535 5\.7\.3.*retrying in \d+ s/);
    const out = first.json<Record<string, any>>();
    expect(out.verification.attempts).toBeGreaterThan(1);
  });

  it('made one application, one service principal, one assignment, one secret, one Exchange SP, one FullAccess each', async () => {
    const out = first.json<Record<string, any>>();
    const t = await emu.control.tenant(CONTOSO);
    const apps = appsByName(t, 'Realistic Sender');
    expect(apps).toHaveLength(1);
    expect(apps[0].passwordCredentials).toHaveLength(1);
    const sink = readJson(secretFile());
    expect(apps[0].passwordCredentials[0].keyId).toBe(sink.credential.keyId);
    const f = footprint(t, out.application.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.assignments.filter((a: any) => a.appRoleId === SMTP_SEND_AS_APP)).toHaveLength(1);
    expect(f.exchangeServicePrincipals).toHaveLength(1);
    expect(f.mailboxPermissions).toHaveLength(2);
  });

  it('a rerun under the same knobs changes nothing', async () => {
    await expectNoopRerun(emu, runs, args(), { timeoutMs: 100_000 });
  }, 110_000);

  it('never prints the secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});
