/**
 * End to end, what only a real process shows: Ctrl-C (SIGINT) ends every command with exit 130 and SIGTERM with
 * 143, saying so on stderr; an apply interrupted after some writes lists exactly what it changed, with --output
 * json still one object on stdout, and a rerun converges; exit 3 is a proof that ran out of --wait while Exchange's
 * permission cache caught up (verification.timedOut). (That the proof uses all of --wait is checked in process:
 * test/provision/proof.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyOptions, spawnCli, verifyArgs, type CliResult } from '../helpers/cli.js';
import { CONTOSO, Runs, appKey, expectNoLeaks, expectPassed, readJson, sinkSecrets, tempDir } from '../helpers/e2e.js';
import { lastSeq } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('signals: every command ends with 130 on SIGINT and 143 on SIGTERM', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const sink = (): string => path.join(dir, 'secret.json');
  const options = (): string[] =>
    applyOptions({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER, AP],
      appName: 'Signal Sender',
      secretOut: sink(),
      wait: '30s',
      yes: false,
      json: false,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-signals-');
    // The app exists, so that status and the hand-off have something to read.
    expectPassed(await runs.run(['apply', ...options(), '--yes', '--output', 'json']));
  });
  afterAll(async () => emu?.close());

  /**
   * Starts `args` with the next Exchange request hanging, waits until the process is stuck in it (the emulator
   * logged the hang), sends `sig`, and returns how it ended and whether anything was written meanwhile.
   */
  async function interruptWhileReading(
    args: string[],
    sig: 'SIGINT' | 'SIGTERM',
    service: 'exchange' | 'token' = 'exchange',
  ): Promise<CliResult> {
    await emu.control.setKnobs({ faults: [{ service, call: 1, kind: 'hang' }] });
    const from = lastSeq(emu);
    const cli = spawnCli(args);
    const hung = (): boolean => emu.store.log.some((e) => e.seq > from && e.service === service && e.status === 0);
    for (let i = 0; !hung(); i++) {
      if (i > 600) throw new Error(`the command never reached ${service}: ${cli.stderr()}`);
      await sleep(50);
    }
    cli.child.kill(sig);
    const r = await cli.exited;
    runs.outputs.push(r.stdout, r.stderr);
    expect(emu.store.log.filter((e) => e.seq > from && e.write)).toEqual([]);
    return r;
  }

  it.each([
    ['plan', 'SIGINT', 130],
    ['plan', 'SIGTERM', 143],
    ['status', 'SIGINT', 130],
    ['status', 'SIGTERM', 143],
    ['handoff', 'SIGINT', 130],
    ['handoff', 'SIGTERM', 143],
    ['apply', 'SIGINT', 130],
    ['apply', 'SIGTERM', 143],
  ] as const)('%s, %s while it reads: exit %i, reported as that signal, nothing changed', async (cmd, sig, code) => {
    const extra = cmd === 'handoff' ? ['--target', 'env'] : cmd === 'apply' ? ['--yes'] : [];
    const r = await interruptWhileReading([cmd, ...options(), ...extra], sig);
    expect(r.code, r.stderr).toBe(code);
    expect(r.signal).toBeNull();
    expect(r.stderr).toContain(`Interrupted (${sig}).`);
    expect(r.stderr).toContain('Nothing was changed before the interrupt.');
    // A result was not reached: nothing pretends to be one on stdout.
    expect(r.stdout).not.toContain('Application (client) id:');
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('verify, %s while it signs in as the app: exit %i', async (sig, code) => {
    const appId = readJson(sink()).clientId as string;
    const r = await interruptWhileReading(
      verifyArgs({
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        clientId: appId,
        secretFile: sink(),
        mailbox: SCANNER,
        wait: '0',
      }),
      sig,
      'token',
    );
    expect(r.code, r.stderr).toBe(code);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(new RegExp(`Interrupted \\(${sig}\\)|interrupted by ${sig}`, 'i'));
  });

  it('with --output json: still exactly one JSON object on stdout, outcome interrupted', async () => {
    const r = await interruptWhileReading(['plan', ...options(), '--output', 'json'], 'SIGTERM');
    expect(r.code, r.stderr).toBe(143);
    const out = r.json<Record<string, any>>();
    expect(out.outcome).toBe('interrupted');
    expect(out.interrupted).toMatchObject({ signal: 'SIGTERM', changed: [] });
  });

  it('never prints a secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(sink()));
  });
});

describe('an apply interrupted after some writes', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const sink = (): string => path.join(dir, 'secret.json');
  const args = (): string[] =>
    applyOptions({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER, AP],
      appName: 'Interrupted Sender',
      secretOut: sink(),
      wait: '30s',
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-interrupted-');
  });
  afterAll(async () => emu?.close());

  let interrupted: CliResult;
  it('SIGTERM once the secret is stored: exit 143, the summary lists what was changed, one JSON object', async () => {
    // Exchange answers slowly, so that the signal lands while its writes are under way.
    await emu.control.setKnobs({ latency: { token: 0, graph: 0, exchange: 1500, smtp: 0 } });
    const cli = spawnCli(['apply', ...args()]);
    for (let i = 0; !/\+ Client secret .*: created/.test(cli.stderr()); i++) {
      if (i > 1200) throw new Error(`the secret was never created: ${cli.stderr()}`);
      await sleep(50);
    }
    cli.child.kill('SIGTERM');
    interrupted = await cli.exited;
    runs.outputs.push(interrupted.stdout, interrupted.stderr);
    await emu.control.setKnobs({ latency: { token: 0, graph: 0, exchange: 0, smtp: 0 } });

    expect(interrupted.code, interrupted.stderr).toBe(143);
    const err = interrupted.stderr;
    expect(err).toContain('Interrupted (SIGTERM).');
    const listed = err.slice(err.indexOf('Changed before the interrupt:'));
    expect(listed).toContain(`~ Application "Interrupted Sender" (${appKey('Interrupted Sender')})`);
    expect(listed).toContain(`~ Client secret (kept in ${sink()})`);
    expect(err).toContain('A rerun converges');
    const out = interrupted.json<Record<string, any>>();
    expect(out.outcome).toBe('interrupted');
    expect(out.interrupted.signal).toBe('SIGTERM');
    expect(out.interrupted.changed).toEqual(
      expect.arrayContaining([
        `Application "Interrupted Sender" (${appKey('Interrupted Sender')})`,
        `Client secret (kept in ${sink()})`,
      ]),
    );
  });

  it('what the summary lists is what the tenant has: every listed change is there, nothing unlisted is', async () => {
    const out = interrupted.json<Record<string, any>>();
    const listed: string[] = [...out.interrupted.changed, ...out.interrupted.inFlight];
    const t = await emu.control.tenant(CONTOSO);
    const app = t.applications.find((a: any) => a.uniqueName === appKey('Interrupted Sender'));
    expect(app.passwordCredentials).toHaveLength(1);
    const sp = t.servicePrincipals.find((s: any) => s.appId === app.appId);
    expect(Boolean(sp)).toBe(listed.some((l) => l.startsWith('Service principal')));
    const perms = sp ? t.exchange.mailboxPermissions.filter((p: any) => p.trustee.id === sp.id) : [];
    expect(perms.length).toBe(listed.filter((l) => l.startsWith('FullAccess')).length);
  });

  it('a rerun converges and the proof passes', async () => {
    const again = await runs.run(['apply', ...args()]);
    const out = expectPassed(again);
    expect(out.application.uniqueName).toBe(appKey('Interrupted Sender'));
  });

  it('never prints a secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(sink()));
  });
});

describe('exit 3: the proof ran out of --wait while permissions propagated', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-exit3-');
    // Exchange's permission cache outlasts --wait: SMTP answers 535 5.7.3 for the whole wait.
    await emu.control.setKnobs({ permissionCacheSeconds: 600 });
  });
  afterAll(async () => emu?.close());

  it('exit 3, verification failed with timedOut, every resource in place', async () => {
    const r = await spawnCli(
      applyArgsFor(emu.endpointsFile, path.join(dir, 'secret.json'), 'Slow Cache Sender', '--wait', '3s'),
    ).exited;
    expect(r.code, r.stderr).toBe(3);
    const out = r.json<Record<string, any>>();
    expect(out.outcome).toBe('proof-not-passed');
    expect(out.verification.status).toBe('failed');
    expect(out.verification.timedOut).toBe(true);
    expect(out.verification.reply).toMatch(/535 5\.7\.3/);
    expect(out.resources.every((x: any) => ['created', 'updated', 'unchanged'].includes(x.status))).toBe(true);
  });
});

function applyArgsFor(endpoints: string, secretOut: string, appName: string, ...extra: string[]): string[] {
  return [
    'apply',
    ...applyOptions({ endpoints, tenant: CONTOSO, mailboxes: [SCANNER], appName, secretOut, wait: null }),
    ...extra,
  ];
}
