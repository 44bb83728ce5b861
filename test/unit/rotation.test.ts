/**
 * The rotation's rules without a tenant: the window (--rotate-within, or 14 days / the last third of a short
 * lifetime), the grace (--grace, or 0 for the hand-offs that read the sink and 7 days for the others), the sink's
 * record of a replaced credential's retire-after time, and the options' validation.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveOptions } from '../../src/config/index.js';
import { CredentialSink, inspectSink, targetReadsSink, type SinkFile } from '../../src/handoff/index.js';
import { gracePlan, rotateWindow, type RunOptions } from '../../src/provision/index.js';
import { lifetimeLimits } from '../../src/provision/nodes/index.js';

const DAY = 86_400_000;
const options = (flags: Record<string, unknown>): RunOptions => ({
  ...resolveOptions({ flags: { tenant: 'contoso.onmicrosoft.com', mailbox: ['a@contoso.com'], ...flags }, env: {} }),
  tenant: 'contoso.onmicrosoft.com',
});

describe('the rotation window and the grace', () => {
  it('rotates in the last 14 days by default, in the last third of a short lifetime, or within --rotate-within', () => {
    expect(rotateWindow(options({})).ms).toBe(14 * DAY);
    expect(rotateWindow(options({ secretLifetime: '7d' })).ms).toBeCloseTo((7 * DAY) / 3);
    expect(rotateWindow(options({ rotateWithin: '30d' }))).toEqual({ ms: 30 * DAY, text: '--rotate-within 30d' });
  });

  it('only env and json without --include-secret read the sink; they retire at once, the others after 7 days', () => {
    expect(['env', 'json'].map((t) => targetReadsSink(t, false))).toEqual([true, true]);
    expect(targetReadsSink('env', true)).toBe(false);
    for (const t of ['business-central', 'enaio-server', 'enaio-webclient', 'xeams', 'postfix', undefined])
      expect(targetReadsSink(t, false)).toBe(false);
    expect(gracePlan(options({ target: 'env', secretOut: 's.json' }))).toMatchObject({ atOnce: true, readsSink: true });
    expect(gracePlan(options({ target: 'business-central' }))).toMatchObject({ atOnce: false, ms: 7 * DAY });
    expect(gracePlan(options({}))).toMatchObject({ atOnce: false, ms: 7 * DAY, readsSink: false });
    expect(gracePlan(options({ target: 'xeams', grace: '0' }))).toMatchObject({ atOnce: true, ms: 0 });
    expect(gracePlan(options({ target: 'env', grace: '2d' }))).toMatchObject({ atOnce: false, ms: 2 * DAY });
  });

  it('--rotate-within must be shorter than the lifetime; --grace takes 0; both come from the environment and files', () => {
    let err: unknown;
    try {
      options({ rotateWithin: '12mo' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('--rotate-within');
    expect((err as ConfigError).message).toMatch(/shorter than --secret-lifetime \(12mo\)/);
    const o = resolveOptions({ flags: {}, env: { SENDASAPP_GRACE: '0', SENDASAPP_ROTATE_WITHIN: '30d' } });
    expect(o.grace?.ms).toBe(0);
    expect(o.rotateWithin?.days).toBe(30);
    expect(resolveOptions({ flags: {}, env: {} }).grace).toBeUndefined();
  });
});

describe('the sink records a replaced credential', () => {
  const base = { tenantId: 't', clientId: 'c' };
  const cred = (keyId: string) => ({
    type: 'secret' as const,
    keyId,
    secret: `value-of-${keyId}-0123456789`,
    expires: '2099-01-01T00:00:00Z',
    displayName: `sendasapp ${keyId}`,
  });

  it('schedules and forgets only the replaced ones; the current credential is never marked', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sendasapp-rotation-')), 's.json');
    const sink = new CredentialSink(file);
    sink.store(base, cred('k1'));
    sink.store(base, cred('k2'));
    sink.store(base, cred('k3'));
    sink.scheduleRetirement(['k1', 'k3'], '2026-12-08T00:00:00.000Z');
    let held = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(held.credential).toEqual(cred('k3'));
    expect(held.previous?.map((p) => [p.keyId, p.retireAfter])).toEqual([
      ['k2', undefined],
      ['k1', '2026-12-08T00:00:00.000Z'],
    ]);
    const summary = inspectSink(file, base);
    expect(summary.ok && summary.held?.previous?.map((p) => p.retireAfter)).toEqual([
      undefined,
      '2026-12-08T00:00:00.000Z',
    ]);
    expect(JSON.stringify(summary)).not.toContain('value-of-');
    // A rotation kept: the replaced one is the credential again, the unproven one beside it (its date kept).
    sink.reinstate('k2');
    held = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(held.credential).toEqual(cred('k2'));
    expect(held.previous?.map((p) => p.keyId)).toEqual(['k3', 'k1']);
    sink.reinstate('k3');
    sink.forget(['k1', 'k2']);
    held = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(held.credential?.keyId).toBe('k3');
    expect(held.previous).toBeUndefined();
  });
});

describe("the tenant's lifetime limits, as Graph returns its default app-management policy", () => {
  const restriction = (restrictionType: string, maxLifetime: string, state = 'enabled') => ({
    restrictionType,
    maxLifetime,
    state,
    restrictForAppsCreatedAfterDateTime: '2019-01-01T00:00:00Z',
  });

  type R = ReturnType<typeof restriction>;
  const policy = (enabled: boolean, password: R[], key: R[]) => ({
    isEnabled: enabled,
    applicationRestrictions: { passwordCredentials: password, keyCredentials: key },
  });
  it('reads passwordLifetime for secrets and asymmetricKeyLifetime for certificates', () => {
    expect(
      lifetimeLimits(
        policy(
          true,
          [restriction('passwordAddition', 'P1D'), restriction('passwordLifetime', 'P180D')],
          [restriction('asymmetricKeyLifetime', 'P90D')],
        ),
      ),
    ).toEqual({ maxSecretDays: 180, maxCertificateDays: 90 });
  });

  it('a disabled policy or restriction limits nothing', () => {
    expect(lifetimeLimits(policy(false, [restriction('passwordLifetime', 'P30D')], []))).toEqual({});
    expect(lifetimeLimits(policy(true, [restriction('passwordLifetime', 'P30D', 'disabled')], []))).toEqual({});
    expect(lifetimeLimits(undefined)).toEqual({});
  });
});
