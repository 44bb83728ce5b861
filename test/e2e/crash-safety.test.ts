/**
 * End to end, crash safety: apply is killed (SIGKILL) after a given step — as a crash, an OOM kill or a cancelled
 * pipeline would — and run again. The second run must converge with no duplicate application, service principal,
 * assignment, Exchange registration or mailbox permission, and no orphaned secret or certificate: the app's
 * credentials are exactly the one the sink holds. (A death between a credential's creation in Entra and its sink
 * write is simulated in process, with the run's `afterWrite` hook: test/provision/credentials.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, type CliOptions, type CliResult } from '../helpers/cli.js';
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
  userId,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('crash safety: SIGKILL after a step, then rerun', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const sinks: string[] = [];
  const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const sinkFor = (name: string): string => path.join(dir, `${slug(name)}.json`);
  const args = (name: string, extra: string[] = []): string[] => {
    sinks.push(sinkFor(name));
    return applyArgs(
      {
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        mailboxes: [SCANNER, AP],
        appName: name,
        secretOut: sinkFor(name),
      },
      ...extra,
    );
  };

  /** Runs apply until it is killed, then again; returns both runs. */
  async function crashThenRerun(
    name: string,
    crash: CliOptions,
    extra: string[] = [],
  ): Promise<{ killed: CliResult; rerun: CliResult }> {
    const killed = await runs.run(args(name, extra), crash);
    const rerun = await runs.run(args(name, extra));
    return { killed, rerun };
  }

  /** The app's objects in contoso are each there once, and its credentials are exactly the sink's one. */
  async function expectConverged(name: string, rerun: CliResult) {
    expectPassed(rerun);
    const t = await emu.control.tenant(CONTOSO);
    const apps = appsByName(t, name);
    expect(apps).toHaveLength(1);
    const app = apps[0];
    const f = footprint(t, app.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.assignments.filter((a: any) => a.appRoleId === SMTP_SEND_AS_APP)).toHaveLength(1);
    expect(f.assignments).toHaveLength(1);
    expect(f.exchangeServicePrincipals).toHaveLength(1);
    expect(f.exchangeServicePrincipals[0].ObjectId).toBe(f.servicePrincipals[0].id);
    for (const m of [SCANNER, AP])
      expect(f.mailboxPermissions.filter((p: any) => p.mailboxUserId === userId(t, m))).toHaveLength(1);
    const sink = readJson(sinkFor(name));
    expect(sink.pending).toBeNull();
    expect(app.passwordCredentials.map((c: any) => c.keyId)).toEqual([sink.credential.keyId]);
    expect(app.keyCredentials).toEqual([]);
    return { app, sink };
  }

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-crash-');
  });
  afterAll(async () => emu?.close());

  it('killed right after "Client secret … created": the rerun keeps that secret and completes the rest', async () => {
    const name = 'Crash After Secret';
    const { killed, rerun } = await crashThenRerun(name, { killWhen: /Client secret .*: created/ });
    expect(killed.signal).toBe('SIGKILL');
    const before = readJson(sinkFor(name));
    const { sink } = await expectConverged(name, rerun);
    expect(sink.credential.keyId).toBe(before.credential.keyId);
  });

  it('killed right after "Service principal … created": the rerun converges without a second one', async () => {
    const name = 'Crash After SP';
    const { killed, rerun } = await crashThenRerun(name, { killWhen: /Service principal in .*: created/ });
    expect(killed.signal).toBe('SIGKILL');
    await expectConverged(name, rerun);
  });

  it('killed mid-Exchange (after the first FullAccess): the rerun grants only what is missing', async () => {
    const name = 'Crash Mid Exchange';
    const { killed, rerun } = await crashThenRerun(name, { killWhen: /FullAccess on \S+: created/ });
    expect(killed.signal).toBe('SIGKILL');
    await expectConverged(name, rerun);
    const out = rerun.json<Record<string, any>>();
    const statuses = Object.fromEntries(out.resources.map((r: any) => [r.key, r.status]));
    // At least one mailbox was granted before the kill, so the rerun left it as it was.
    expect([statuses[`exchange.mailboxAccess:${SCANNER}`], statuses[`exchange.mailboxAccess:${AP}`]]).toContain(
      'unchanged',
    );
  });

  it('a third run after each recovery changes nothing', async () => {
    await expectNoopRerun(emu, runs, args('Crash After Secret'));
  });

  it('never prints a secret, a private key or a token', async () => {
    const secrets = [...new Set(sinks)].filter((f) => existsSync(f)).flatMap((f) => sinkSecrets(f));
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    await expectNoLeaks(emu, runs.outputs, secrets);
  });
});
