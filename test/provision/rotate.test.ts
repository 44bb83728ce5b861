/**
 * Rotation, in process (rotation.ts and the credential node): a new credential is added while the old one stays
 * valid — during the overlap both get a token and pass an XOAUTH2 login — the sink holds the new one with the old
 * beside it, the proof uses the new one, and the old one leaves Entra at once (a target that reads the sink, or
 * --grace 0) or by the first run after the grace recorded in the sink (simulated by a recorded time in the past).
 * A new credential that fails the proof retires nothing. A tenant's 180-day limit is read from its policy and
 * honoured; `--rotate-within` (and its 14-day default, the renewal of old) rotates a credential near its end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { TenantRun, verifyDelivery, type AppCredential, type RunResult } from '../../src/provision/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, readJson, tempDir } from '../helpers/e2e.js';
import {
  FAST_HOOKS,
  lastSeq,
  logSince,
  reportOf,
  runOptions,
  runTenant,
  writesOf,
  type RunFlags,
} from '../helpers/provision.js';
import type { RunHooks } from '../../src/provision/index.js';

const SCANNER = `scanner@${CONTOSO}`;
const DAY = 86_400_000;

describe('rotation', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-rotate-');
  });
  afterAll(async () => emu?.close());

  const flagsFor = (appName: string, extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName,
    secretOut: path.join(dir, `${appName.replace(/\W+/g, '-')}.json`),
    enableSmtpAuth: 'mailbox',
    wait: '1m',
    ...extra,
  });
  const appOf = (appId: string) => emu.store.world.applications.find((a) => a.entity.appId === appId)!;
  const secretIds = (appId: string): string[] =>
    (appOf(appId).entity.passwordCredentials as Array<{ keyId: string }>).map((c) => c.keyId);
  const certIds = (appId: string): string[] =>
    (appOf(appId).entity.keyCredentials as Array<{ keyId: string }>).map((c) => c.keyId);

  /** The XOAUTH2 proof with a given credential (token, claims, AUTH), as `verify` runs it. */
  async function login(r: RunResult, run: TenantRun, credential: AppCredential) {
    return verifyDelivery({
      profile: run.ctx.profile,
      tenantId: r.tenant.id,
      appId: r.application.appId!,
      credential,
      mailboxes: [SCANNER],
      rbac: false,
      waitMs: 30_000,
      progress: () => undefined,
      signal: new AbortController().signal,
      initialDelayMs: 200,
    });
  }

  const credentialOf = (c: { type: string; secret?: string; privateKeyPem?: string; certificatePem?: string }) =>
    (c.type === 'secret'
      ? { type: 'secret', value: c.secret! }
      : { type: 'certificate', pem: `${c.privateKeyPem}\n${c.certificatePem}` }) as AppCredential;

  /**
   * `sendasapp rotate` in process: plan, apply, then (while both are valid) `during`, then the proof and the
   * rotation's second half, as the CLI renders them.
   */
  async function rotate(
    flags: RunFlags,
    o: { during?: (r: RunResult, run: TenantRun) => Promise<void>; hooks?: RunHooks } = {},
  ) {
    const before = lastSeq(emu);
    const run = await TenantRun.open(
      { ...runOptions(emu, { verify: 'auth', ...flags }), rotate: true },
      { isTty: false, progress: () => undefined, signal: new AbortController().signal, hooks: o.hooks ?? FAST_HOOKS },
    );
    try {
      const planned = await run.plan();
      const planWrites = writesOf(logSince(emu, before));
      if (planned.failure) return { planned, planWrites, run };
      const applied = await run.apply();
      await o.during?.(applied, run);
      const proofCredential = run.credentialForProof();
      await run.prove();
      const rotation = await run.finishRotation();
      return { planned, planWrites, applied, proofCredential, rotation, result: run.result(), run };
    } finally {
      await run.close();
    }
  }

  it('a secret: both old and new log in during the overlap, the proof uses the new one, --target env retires the old at once', async () => {
    const flags = flagsFor('Rotate Env', { target: 'env' });
    const first = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    expect(first.result.verification?.status).toBe('passed');
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;

    const r = await rotate(flags, {
      async during(applied, run) {
        // The overlap: Entra has both, the sink holds the new one with the old beside it, both log in.
        const sink = readJson(flags.secretOut as string);
        expect(sink.credential.keyId).not.toBe(old.keyId);
        expect(sink.previous.map((p: any) => p.keyId)).toEqual([old.keyId]);
        expect(sink.previous[0].retireAfter).toBeUndefined();
        expect(secretIds(appId).sort()).toEqual([old.keyId, sink.credential.keyId].sort());
        for (const c of [old, sink.credential]) {
          const proof = await login(applied, run, credentialOf(c));
          expect(proof.status, proof.reply).toBe('passed');
          expect(proof.mailboxes.map((m) => m.reply)).toEqual([expect.stringMatching(/^235 /)]);
        }
      },
    });
    expect(r.planWrites).toEqual([]);
    const add = reportOf(r.planned, 'entra.credential')!.changes;
    expect(add.map((c) => c.op)).toEqual(['addSecret']);
    expect(add[0]!.what).toContain(`replacing secret ${old.keyId} (sendasapp rotate)`);
    expect(add[0]!.what).toContain('at once after the proof (--target env reads');

    const sink = readJson(flags.secretOut as string);
    // The proof used the new credential.
    expect(r.proofCredential).toEqual({ type: 'secret', value: sink.credential.secret });
    expect(r.result!.verification?.status).toBe('passed');
    expect(r.rotation).toMatchObject({
      status: 'retired',
      proof: 'passed',
      readsSink: true,
      old: [{ keyId: old.keyId }],
      new: { keyId: sink.credential.keyId },
    });
    expect(r.result!.rotation?.status).toBe('retired');
    expect(secretIds(appId)).toEqual([sink.credential.keyId]);
    expect(sink.previous).toBeUndefined();
    expect(sink.pending).toBeNull();
    // The old secret no longer gets a token.
    const run = await TenantRun.open(runOptions(emu, flags), {
      isTty: false,
      progress: () => undefined,
      signal: new AbortController().signal,
    });
    try {
      const gone = await login(r.result!, run, credentialOf(old));
      expect(gone.status).toBe('failed');
      expect(gone.reply).toMatch(/AADSTS7000215/);
    } finally {
      await run.close();
    }
    // A rerun changes nothing.
    const again = await runTenant(emu, flags, 'plan');
    expect(again.result.pending).toBe(0);
  });

  it('without a target that reads the sink: the grace is recorded, and the first run after it removes the old one', async () => {
    const flags = flagsFor('Rotate Grace');
    const first = await runTenant(emu, flags);
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;

    const r = await rotate(flags);
    expect(r.rotation).toMatchObject({ status: 'scheduled', proof: 'passed', readsSink: false });
    const retireAfter = Date.parse(r.rotation!.retireAfter!);
    expect(retireAfter - Date.now()).toBeGreaterThan(6.9 * DAY);
    expect(retireAfter - Date.now()).toBeLessThanOrEqual(7 * DAY);
    let sink = readJson(flags.secretOut as string);
    expect(sink.previous).toEqual([
      expect.objectContaining({ keyId: old.keyId, retireAfter: r.rotation!.retireAfter }),
    ]);
    expect(secretIds(appId)).toHaveLength(2);

    // Inside the grace, a nightly apply leaves the old one alone.
    const inside = await runTenant(emu, flags, 'plan');
    expect(inside.result.pending).toBe(0);

    // The grace has passed (the recorded time moved into the past): plan shows the removal, apply does it.
    sink.previous[0].retireAfter = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(flags.secretOut as string, JSON.stringify(sink), { mode: 0o600 });
    const plan = await runTenant(emu, flags, 'plan');
    const changes = reportOf(plan.result, 'entra.credential')!.changes;
    expect(changes.map((c) => [c.op, c.action])).toEqual([['retireReplaced', 'delete']]);
    expect(changes[0]!.what).toContain(old.keyId);
    expect(plan.writes).toEqual([]);
    const applied = await runTenant(emu, flags);
    expect(applied.result.outcome).toBe('ok');
    expect(applied.writes.map((w) => w.path)).toEqual([expect.stringMatching(/removePassword$/)]);
    sink = readJson(flags.secretOut as string);
    expect(secretIds(appId)).toEqual([sink.credential.keyId]);
    expect(sink.previous).toBeUndefined();
    expect((await runTenant(emu, flags, 'plan')).result.pending).toBe(0);
  });

  it('a self-signed certificate with --grace 0: both keys sign in during the overlap, then the old key is gone', async () => {
    const flags = flagsFor('Rotate Cert', { credential: 'certificate' });
    const first = await runTenant(emu, flags);
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;
    const r = await rotate(
      { ...flags, grace: '0' },
      {
        async during(applied, run) {
          const sink = readJson(flags.secretOut as string);
          expect(certIds(appId).sort()).toEqual([old.keyId, sink.credential.keyId].sort());
          for (const c of [old, sink.credential])
            expect((await login(applied, run, credentialOf(c))).status).toBe('passed');
        },
      },
    );
    expect(r.rotation).toMatchObject({ status: 'retired', proof: 'passed' });
    const sink = readJson(flags.secretOut as string);
    expect(certIds(appId)).toEqual([sink.credential.keyId]);
    expect(sink.previous).toBeUndefined();
  });

  it('a new secret that fails the proof retires nothing: the old one stays valid in Entra and beside it in the sink', async () => {
    const flags = flagsFor('Rotate Broken', { target: 'env', grace: '0' });
    const first = await runTenant(emu, flags);
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;
    const r = await rotate(
      { ...flags, wait: '2s' },
      {
        hooks: {
          ...FAST_HOOKS,
          // Entra forgets the new secret's value right after making it: every token request with it is refused.
          afterWrite: (step) => {
            if (step === 'addPassword') appOf(appId).secrets.at(-1)!.hash = '0'.repeat(64);
          },
        },
      },
    );
    expect(r.result!.verification?.status).toBe('failed');
    expect(r.result!.verification?.reply).toMatch(/AADSTS7000215/);
    expect(r.rotation).toMatchObject({ status: 'kept', proof: 'failed', old: [{ keyId: old.keyId }] });
    expect(r.rotation!.message).toMatch(/did not pass the XOAUTH2 proof/);
    // The old one is still valid in Entra and is the sink's credential again; the unproven new one is beside it.
    const failed = r.rotation!.new.keyId!;
    const sink = readJson(flags.secretOut as string);
    expect(secretIds(appId).sort()).toEqual([old.keyId, failed].sort());
    expect(sink.credential).toEqual(old);
    expect(sink.previous).toEqual([expect.objectContaining({ keyId: failed })]);
    expect(sink.previous[0].retireAfter).toBeUndefined();
    expect(r.result!.credential?.keyId).toBe(old.keyId);
    expect((await login(r.result!, r.run, credentialOf(old))).status).toBe('passed');
    // Rotating again with a working new secret retires both replaced ones once it passes.
    const again = await rotate(flags);
    expect(again.rotation).toMatchObject({ status: 'retired', proof: 'passed' });
    expect(again.rotation!.old.map((x) => x.keyId).sort()).toEqual([old.keyId, failed].sort());
    expect(secretIds(appId)).toEqual([readJson(flags.secretOut as string).credential.keyId]);
  });

  it('a 180-day tenant limit: read from the policy, a longer lifetime refused before any write, 180d honoured', async () => {
    const flags = flagsFor('Rotate Policy', { target: 'env' });
    const first = await runTenant(emu, flags, 'apply');
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;
    await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: 180 });
    try {
      const refused = await rotate(flags);
      expect(refused.planned.failure).toMatchObject({ kind: 'input', field: '--secret-lifetime' });
      expect(refused.planned.failure!.message).toContain("longer than the 180 days the tenant's app-management policy");
      expect(refused.planWrites).toEqual([]);
      expect(secretIds(appId)).toEqual([old.keyId]);

      const before = lastSeq(emu);
      const r = await rotate({ ...flags, secretLifetime: '180d' });
      expect(r.rotation?.status).toBe('retired');
      expect(
        logSince(emu, before).some(
          (e) => e.service === 'graph' && e.path.endsWith('/policies/defaultAppManagementPolicy'),
        ),
      ).toBe(true);
      const sink = readJson(flags.secretOut as string);
      const entra = (appOf(appId).entity.passwordCredentials as Array<{ keyId: string; endDateTime: string }>).find(
        (c) => c.keyId === sink.credential.keyId,
      )!;
      expect(Date.parse(entra.endDateTime) - Date.now()).toBeLessThanOrEqual(180 * DAY);
      expect(Date.parse(entra.endDateTime) - Date.now()).toBeGreaterThan(179 * DAY);
    } finally {
      await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: null });
    }
  });

  it('apply --rotate-within: a credential ending inside the window is rotated by the same flow, one outside it is not', async () => {
    const flags = flagsFor('Rotate Within', { target: 'json' });
    const first = await runTenant(emu, { ...flags, secretLifetime: '20d' });
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;

    // 20 days left: outside the default window (14 days) and outside --rotate-within 10d.
    expect((await runTenant(emu, flags, 'plan')).result.pending).toBe(0);
    expect((await runTenant(emu, { ...flags, rotateWithin: '10d' }, 'plan')).result.pending).toBe(0);

    const plan = await runTenant(emu, { ...flags, rotateWithin: '30d' }, 'plan');
    const what = reportOf(plan.result, 'entra.credential')!.changes[0]!.what;
    expect(what).toContain(`replacing secret ${old.keyId} (it ends`);
    expect(what).toContain('within --rotate-within 30d');

    const { run } = await import('../helpers/provision.js').then((h) =>
      h.openRun(emu, { ...flags, rotateWithin: '30d', verify: 'auth' }, { hooks: FAST_HOOKS }),
    );
    try {
      expect((await run.apply()).outcome).toBe('ok');
      expect((await run.prove()).status).toBe('passed');
      expect(await run.finishRotation()).toMatchObject({ status: 'retired', readsSink: true });
    } finally {
      await run.close();
    }
    const sink = readJson(flags.secretOut as string);
    expect(secretIds(appId)).toEqual([sink.credential.keyId]);
    expect(Date.parse(sink.credential.expires) - Date.now()).toBeGreaterThan(300 * DAY);
    // The new one is far from its end: the next nightly run with the same window does nothing.
    expect((await runTenant(emu, { ...flags, rotateWithin: '30d' }, 'plan')).result.pending).toBe(0);
  });

  it('the default window (the renewal of old, now the rotation flow): 10 days left of a 12-month secret rotates it', async () => {
    const flags = flagsFor('Rotate Default Window');
    const first = await runTenant(emu, flags);
    const appId = first.result.application.appId!;
    const old = readJson(flags.secretOut as string).credential;
    const entra = (appOf(appId).entity.passwordCredentials as Array<{ keyId: string; endDateTime: string }>)[0]!;
    entra.endDateTime = new Date(Date.now() + 10 * DAY).toISOString();
    const plan = await runTenant(emu, flags, 'plan');
    const what = reportOf(plan.result, 'entra.credential')!.changes[0]!.what;
    expect(what).toContain(`replacing secret ${old.keyId} (it ends`);
    expect(what).toContain('within its last 14 days');
    expect(what).toContain('7d after the proof');
  });

  it('rotate with nothing to rotate (no app yet, or no --secret-out) stops before any write', async () => {
    const none = await rotate(flagsFor('Never Applied'));
    expect(none.planned.failure?.message).toMatch(/nothing to rotate: the app "Never Applied" is not registered yet/);
    expect(none.planWrites).toEqual([]);
    const first = await runTenant(emu, flagsFor('No Sink'));
    expect(first.result.outcome).toBe('ok');
    const noSink = await rotate({ ...flagsFor('No Sink'), secretOut: undefined, showSecret: true, output: 'json' });
    expect(noSink.planned.failure?.message).toMatch(/nothing to rotate: rotate needs --secret-out/);
    expect(noSink.planWrites).toEqual([]);
  });
});
