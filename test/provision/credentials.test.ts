/**
 * The app credential's life, in process: a run that dies between the credential's creation in Entra and its write
 * to the sink (simulated by an `afterWrite` hook that never returns: the run is abandoned and closed) leaves a
 * pending marker; the next run removes the orphan it names and converges with exactly one credential, the one the
 * sink holds. `--new-secret` replaces the sink's secret and retires the old keyId only once the new one is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { uniqueNameFor } from '../../src/entra/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, SMTP_SEND_AS_APP, footprint, readJson, tempDir, userId } from '../helpers/e2e.js';
import { lastSeq, logSince, openRun, reportOf, runTenant, writesOf, type RunFlags } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('credential crash safety and replacement', () => {
  let emu: TestEmulator;
  let dir: string;
  const sinkOf = (name: string): string => path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
  const flags = (appName: string, extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER, AP],
    appName,
    secretOut: sinkOf(appName),
    enableSmtpAuth: 'mailbox',
    wait: '1m',
    ...extra,
  });
  const ourApp = async (name: string): Promise<any> => {
    const t = await emu.control.tenant(CONTOSO);
    const apps = t.applications.filter((a: any) => a.uniqueName === uniqueNameFor(name));
    expect(apps).toHaveLength(1);
    return apps[0];
  };

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-credentials-');
  });
  afterAll(async () => emu?.close());

  /**
   * Applies until the hook sees `step`, then never lets the run go on — as a process killed there would — and
   * abandons the run (its signal aborted, its clients closed). Returns when the run is closed.
   */
  async function crashAfter(step: string, f: RunFlags): Promise<void> {
    let crashed!: () => void;
    const atCrash = new Promise<void>((resolve) => (crashed = resolve));
    const controller = new AbortController();
    const { run } = await openRun(emu, f, {
      controller,
      hooks: {
        afterWrite: (s) => {
          if (s !== step) return;
          crashed();
          return new Promise<void>(() => undefined);
        },
      },
    });
    const applying = run.apply().catch(() => undefined);
    await Promise.race([atCrash, applying.then(() => Promise.reject(new Error(`the run ended before ${step}`)))]);
    controller.abort(new Error('crash'));
    await run.close();
  }

  /** The app's objects are each there once, and its credentials are exactly the one the sink holds. */
  async function expectConverged(name: string, kind: 'secret' | 'certificate') {
    const app = await ourApp(name);
    const t = await emu.control.tenant(CONTOSO);
    const f = footprint(t, app.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.assignments.filter((a: any) => a.appRoleId === SMTP_SEND_AS_APP)).toHaveLength(1);
    expect(f.exchangeServicePrincipals).toHaveLength(1);
    for (const m of [SCANNER, AP])
      expect(f.mailboxPermissions.filter((p: any) => p.mailboxUserId === userId(t, m))).toHaveLength(1);
    const sink = readJson(sinkOf(name));
    expect(sink.pending).toBeNull();
    const held = kind === 'secret' ? app.passwordCredentials : app.keyCredentials;
    const other = kind === 'secret' ? app.keyCredentials : app.passwordCredentials;
    expect(held.map((c: any) => c.keyId)).toEqual([sink.credential.keyId]);
    expect(other).toEqual([]);
    return { app, sink };
  }

  it.each([
    ['secret', 'addPassword', 'passwordCredentials', '/removePassword'],
    ['certificate', 'addCertificate', 'keyCredentials', undefined],
  ] as const)(
    'a run that dies right after %s is created in Entra: the rerun removes the orphan named by the pending marker',
    async (kind, step, field, removal) => {
      const name = `Crash After ${step}`;
      const f = flags(name, { credential: kind });
      await crashAfter(step, f);

      // The crash left a credential in Entra that no file holds, and the marker that names it.
      const marker = readJson(sinkOf(name));
      expect(marker.credential).toBeNull();
      expect(marker.pending.displayName).toMatch(/^sendasapp /);
      const crashedApp = await ourApp(name);
      expect(crashedApp[field].map((c: any) => c.displayName)).toEqual([marker.pending.displayName]);
      const orphan = crashedApp[field][0].keyId as string;

      // plan names the orphan for removal, and writes nothing.
      const plan = await runTenant(emu, f, 'plan');
      expect(plan.writes).toEqual([]);
      const planned = reportOf(plan.result, 'entra.credential')!;
      expect(planned.changes).toEqual(
        expect.arrayContaining([expect.objectContaining({ op: 'removeOrphan', action: 'delete' })]),
      );
      expect(planned.changes.find((c) => c.op === 'removeOrphan')!.what).toContain(orphan);

      const rerun = await runTenant(emu, f, 'prove');
      expect(rerun.result.outcome, JSON.stringify(rerun.result.failure ?? rerun.result.verification)).toBe('ok');
      expect(rerun.result.verification?.status).toBe('passed');
      const { sink } = await expectConverged(name, kind);
      expect(sink.credential.keyId).not.toBe(orphan);
      expect(rerun.result.credential?.keyId).toBe(sink.credential.keyId);
      if (removal) expect(rerun.writes.filter((w) => w.path.endsWith(removal))).toHaveLength(1);

      // A third run changes nothing.
      const third = await runTenant(emu, f, 'apply');
      expect(third.result.changed).toBe(false);
      expect(third.writes).toEqual([]);
    },
  );

  it('--new-secret replaces the secret the sink holds and retires the old keyId once the new one is stored', async () => {
    const name = 'Replace My Secret';
    const first = await runTenant(emu, flags(name), 'prove');
    expect(first.result.outcome).toBe('ok');
    const old = readJson(sinkOf(name)).credential;

    const plan = await runTenant(emu, flags(name, { newSecret: true }), 'plan');
    expect(plan.writes).toEqual([]);
    expect(
      reportOf(plan.result, 'entra.credential')!
        .changes.map((c) => c.op)
        .sort(),
    ).toEqual(['addSecret', 'retire']);

    const before = lastSeq(emu);
    const replaced = await runTenant(emu, flags(name, { newSecret: true }), 'prove');
    expect(replaced.result.outcome, JSON.stringify(replaced.result.failure)).toBe('ok');
    expect(replaced.result.verification?.status).toBe('passed');
    const sink = readJson(sinkOf(name));
    expect(sink.credential.keyId).not.toBe(old.keyId);
    expect(sink.credential.secret).not.toBe(old.secret);
    const app = await ourApp(name);
    expect(app.passwordCredentials.map((p: any) => p.keyId)).toEqual([sink.credential.keyId]);
    // The new secret was added before the old one was removed (never a moment with neither).
    const writes = writesOf(logSince(emu, before)).map((w) => w.path);
    const added = writes.findIndex((p) => p.endsWith('/addPassword'));
    const removed = writes.findIndex((p) => p.endsWith('/removePassword'));
    expect(added).toBeGreaterThanOrEqual(0);
    expect(removed).toBeGreaterThan(added);

    // Without --new-secret, the next run keeps the new one.
    const again = await runTenant(emu, flags(name), 'apply');
    expect(again.result.changed).toBe(false);
    expect(again.writes).toEqual([]);
  });
});
