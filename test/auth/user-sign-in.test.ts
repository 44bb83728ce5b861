/**
 * A person's sign-in serves many tenants: one device-code sign-in at the partner, then Graph and Exchange tokens for
 * every customer tenant come from its refresh token at each customer's authority, each token for the right tenant —
 * the device-code endpoint is called once for the whole fleet. And the options that only make sense for a person's
 * sign-in refuse an app sign-in as bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { AGENT, CUSTOMER, EXPIRED, GDAP_SEED, PARTNER, THIN } from '../helpers/gdap.js';
import { CachedCredential, loadEndpointsFile, signInOperator, TenantAccessError } from '../../src/auth/index.js';
import { ConfigError, resolveOptions } from '../../src/config/index.js';

describe('one sign-in for a fleet of tenants', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: GDAP_SEED });
  });
  afterAll(async () => emu?.close());

  it('asks once at the partner and gets each customer its own tokens; a tenant without access fails alone', async () => {
    const profile = loadEndpointsFile(emu.endpointsFile);
    const prompts: string[] = [];
    const signIn = signInOperator({
      auth: 'device-code',
      profile,
      tenant: CUSTOMER,
      partnerTenant: PARTNER,
      isTty: false,
      prompt: (m) => prompts.push(m),
    });
    let approving = true;
    const approver = (async () => {
      while (approving) {
        for (const p of await emu.control.pendingDeviceCodes()) await emu.control.approveDeviceCode(p.userCode, AGENT);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await emu.control.clearLog();
    const credential = new CachedCredential(signIn.credential);
    const customers = [CUSTOMER, THIN].map((d) => emu.store.findTenant(d)!.id);
    try {
      // Many tenants at once, as a fleet run asks for them.
      const tokens = await Promise.all(
        customers.flatMap((tenantId) =>
          [profile.graphScope, profile.exchangeScope].map(async (scope) => ({
            tenantId,
            scope,
            claims: decodeJwt((await credential.getToken(scope, { tenantId })).token),
          })),
        ),
      );
      for (const t of tokens) {
        expect(t.claims.tid).toBe(t.tenantId);
        expect(t.claims.upn).toBe(AGENT);
        expect(t.claims.aud).toBe(t.scope.replace('/.default', ''));
      }
      const expiredId = emu.store.findTenant(EXPIRED)!.id;
      await expect(credential.getToken(profile.graphScope, { tenantId: expiredId })).rejects.toBeInstanceOf(
        TenantAccessError,
      );
    } finally {
      approving = false;
      await approver;
    }
    const log = await emu.control.log({ service: 'token' });
    expect(log.filter((e) => /\/devicecode$/.test(e.path))).toHaveLength(1);
    expect(prompts).toHaveLength(1);
  });
});

describe('person-only options', () => {
  const resolve = (flags: Record<string, unknown>) =>
    resolveOptions({ flags: { tenant: CUSTOMER, mailbox: [`scanner@${CUSTOMER}`], ...flags }, env: {} });

  it('--partner-tenant with an app sign-in is bad input naming the flag', () => {
    expect(() => resolve({ partnerTenant: PARTNER, auth: 'client-secret' })).toThrow(ConfigError);
    expect(() => resolve({ partnerTenant: PARTNER, auth: 'client-secret' })).toThrow(/--partner-tenant/);
    expect(resolve({ partnerTenant: PARTNER, auth: 'device-code' }).partnerTenant).toBe(PARTNER);
  });

  it('--token-cache with an app sign-in is bad input naming the flag', () => {
    expect(() => resolve({ tokenCache: 'cache.json', auth: 'workload-identity' })).toThrow(/--token-cache/);
  });
});
