/**
 * The product's Exchange resources against the emulator's stricter Exchange (m365-facts §8): New-ServicePrincipal
 * waits for Exchange to see a fresh service principal and explains a wrong object id; trustees are matched by Sid
 * or ids, never by display name; RBAC names fit Exchange's 64 characters; the REST classifier knows the texts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { addEnterpriseApp, type EnterpriseApp } from '../emulator/enterprise-app.js';
import {
  ExchangeServicePrincipalNotFoundError,
  RBAC_NAME_MAX,
  RestExchangeBackend,
  classifyExchangeError,
  grantFullAccess,
  grantSendAs,
  hasFullAccess,
  hasSendAs,
  isTrustee,
  rbacNames,
  readExchangeServicePrincipal,
  registerExchangeServicePrincipal,
} from '../../src/exchange/index.js';
import type { RetryInfo } from '../../src/poll/index.js';

const CONTOSO = 'contoso.onmicrosoft.com';

function staticCredential(token: () => string): TokenCredential {
  return {
    getToken: async (): Promise<AccessToken> => ({ token: token(), expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

describe('Exchange resources against an Exchange that checks Entra and lags behind it', () => {
  let emu: TestEmulator;
  let exo: RestExchangeBackend;

  const enterpriseApp = (displayName: string, createdAtMs = 0): EnterpriseApp =>
    addEnterpriseApp(emu, CONTOSO, displayName, createdAtMs);

  beforeAll(async () => {
    emu = await startTestEmulator();
    exo = new RestExchangeBackend({
      credential: staticCredential(() => emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange')),
      adminUrl: emu.endpoints.exchangeAdminUrl,
      scope: 'https://outlook.office365.com/.default',
      tenantId: emu.store.findTenant(CONTOSO)!.id,
      dispatcher: emu.dispatcher,
    });
  });
  afterAll(async () => {
    await exo.close();
    await emu.close();
  });

  it('waits (with progress) while Exchange does not yet see a fresh service principal, then registers it with its Sid', async () => {
    await emu.control.setKnobs({ exchangeReplicationDelayMs: 600 });
    try {
      const app = enterpriseApp('Fresh SMTP app', Date.now());
      const progress: RetryInfo[] = [];
      const row = await registerExchangeServicePrincipal(exo, app.appId, app.objectId, 'Fresh SMTP app', {
        deadlineMs: 30_000,
        baseMs: 100,
        capMs: 200,
        onRetry: (i) => progress.push(i),
      });
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[0]!.reason).toContain('AADServicePrincipalNotFound');
      expect(row).toMatchObject({ AppId: app.appId, ObjectId: app.objectId, Sid: expect.stringMatching(/^S-1-5-21-/) });
      expect(emu.store.findTenant(CONTOSO)!.exchange.servicePrincipals.some((s) => s.AppId === app.appId)).toBe(true);
    } finally {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: null });
    }
  });

  it("explains the app registration's object id at once when the principal is not fresh (no wait)", async () => {
    const app = enterpriseApp('Wrong id');
    const appObjectId = randomUUID();
    const err = await registerExchangeServicePrincipal(exo, app.appId, appObjectId, 'Wrong id').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExchangeServicePrincipalNotFoundError);
    expect((err as Error).message).toMatch(/app registration's, not the enterprise application's/);
    expect((err as Error).message).toContain('Fix:');
    expect((err as ExchangeServicePrincipalNotFoundError).waitedMs).toBeUndefined();
  });

  it('gives up after the bounded wait with a message naming replication and the fix', async () => {
    await emu.control.setKnobs({ exchangeReplicationDelayMs: 60_000 });
    try {
      const app = enterpriseApp('Slow app', Date.now());
      const err = await registerExchangeServicePrincipal(exo, app.appId, app.objectId, 'Slow app', {
        deadlineMs: 300,
        baseMs: 50,
        capMs: 100,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExchangeServicePrincipalNotFoundError);
      expect((err as Error).message).toMatch(/has not replicated .* run the same command again/);
    } finally {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: null });
    }
  });

  it('"already exists" is success and answers the registration', async () => {
    const app = enterpriseApp('Twice');
    await registerExchangeServicePrincipal(exo, app.appId, app.objectId, 'Twice');
    const again = await registerExchangeServicePrincipal(exo, app.appId, app.objectId, 'Twice');
    expect(again).toMatchObject({ AppId: app.appId, ObjectId: app.objectId });
  });

  it('matches a trustee by Sid and ids; a principal with the same display name is not the trustee', async () => {
    const a = enterpriseApp('Same name');
    const b = enterpriseApp('Same name');
    await registerExchangeServicePrincipal(exo, a.appId, a.objectId, 'Same name');
    await registerExchangeServicePrincipal(exo, b.appId, b.objectId, 'Same name');
    const spA = (await readExchangeServicePrincipal(exo, a.appId))!;
    const spB = (await readExchangeServicePrincipal(exo, b.appId))!;
    expect(spA.Sid).toBeTruthy();
    await grantFullAccess(exo, 'it@contoso.onmicrosoft.com', spA);
    await grantSendAs(exo, 'it@contoso.onmicrosoft.com', spA);
    expect(await hasFullAccess(exo, 'it@contoso.onmicrosoft.com', spA)).toBe(true);
    expect(await hasSendAs(exo, 'it@contoso.onmicrosoft.com', spA)).toBe(true);
    expect(await hasFullAccess(exo, 'it@contoso.onmicrosoft.com', spB)).toBe(false);
    expect(await hasSendAs(exo, 'it@contoso.onmicrosoft.com', spB)).toBe(false);
    // Without a Sid, the ids still match; a display name alone never does.
    const noSid = { AppId: a.appId, ObjectId: a.objectId, DisplayName: 'Same name' };
    expect(await hasFullAccess(exo, 'it@contoso.onmicrosoft.com', noSid)).toBe(true);
    expect(isTrustee(noSid, 'Same name', undefined)).toBe(false);
    expect(isTrustee(spA, a.objectId, spB.Sid)).toBe(false);
  });
});

describe('rbacNames', () => {
  it('keeps the names earlier versions made for short unique names', () => {
    expect(rbacNames('sendasapp-scanner')).toEqual({
      scopeName: 'sendasapp-scanner-scope',
      roleAssignmentName: 'sendasapp-scanner-smtp-sendasapp',
    });
  });

  it('fits any unique name in 64 characters, stably, and keeps different long names different', () => {
    const long = `sendasapp-${'a very long application name for the travel agency '.repeat(3)}`;
    const other = `${long}x`;
    const n = rbacNames(long);
    for (const v of Object.values(n)) expect(v.length).toBeLessThanOrEqual(RBAC_NAME_MAX);
    expect(n.scopeName).toMatch(/^sendasapp-a very long.*-[0-9a-f]{8}-scope$/);
    expect(n.roleAssignmentName).toMatch(/-[0-9a-f]{8}-smtp-sendasapp$/);
    expect(rbacNames(long)).toEqual(n);
    expect(rbacNames(other).scopeName).not.toBe(n.scopeName);
    const edge = 'x'.repeat(64 - '-smtp-sendasapp'.length);
    expect(rbacNames(edge).roleAssignmentName).toBe(`${edge}-smtp-sendasapp`);
    expect(rbacNames(`${edge}y`).roleAssignmentName.length).toBe(64);
  });
});

describe('classifyExchangeError (REST backend)', () => {
  it('knows AADServicePrincipalNotFound and the two authorization texts', () => {
    const body = (text: string) => ({
      error: { code: 'BadRequest', message: 'Error executing cmdlet', details: [{ message: `|X|${text}` }] },
    });
    expect(
      classifyExchangeError(
        400,
        body("AADServicePrincipalNotFound. No ServicePrincipal with Object Id 'x' is registered"),
        'x',
      ),
    ).toBe('not-found');
    expect(classifyExchangeError(401, body('User is not allowed to call New-ServicePrincipal'), 'x')).toBe(
      'access-denied',
    );
    expect(
      classifyExchangeError(
        400,
        body("The role assigned to application 1 isn't supported in this scenario. Please check online documentation"),
        'x',
      ),
    ).toBe('access-denied');
  });
});
