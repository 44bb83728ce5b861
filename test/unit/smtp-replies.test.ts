/**
 * The reply table against the emulator's words: every SMTP reply of m365-facts §8 the emulator sends, and the
 * Exchange authorization texts as the emulated admin API sends them through the product's REST backend, land on a
 * row with a cause and a fix (never on "unknown").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { REPLIES, sendAsDenied } from '../../src/emulator/smtp/replies.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { addEnterpriseApp } from '../emulator/enterprise-app.js';
import { explainExchangeError, explainSmtpReply } from '../../src/smtp/index.js';
import { ExchangeError, RestExchangeBackend } from '../../src/exchange/index.js';

const line = (r: { code: number; text: string }): string =>
  `${r.code} ${r.text} [EM1PR00CA0001 2026-12-01T00:00:00Z 08DC]`;

describe('explainSmtpReply', () => {
  it.each([
    [REPLIES.concurrentConnectionsExceeded, 'concurrent-connections'],
    [REPLIES.oldTls, 'old-tls'],
    [REPLIES.throttledSendAsDenied, 'throttled-send-as-denied'],
    [REPLIES.throttledMailboxFull, 'throttled-mailbox-full'],
    [REPLIES.throttledInvalidLicense, 'throttled-invalid-license'],
    [REPLIES.throttledTooManyRecipients, 'throttled-too-many-recipients'],
    [REPLIES.throttledInvalidRecipients, 'throttled-invalid-recipients'],
    [sendAsDenied('a@contoso.onmicrosoft.com', 'b@contoso.onmicrosoft.com'), 'send-as-denied'],
  ])('%o → %s, with a cause and a fix', (reply, id) => {
    const e = explainSmtpReply(line(reply));
    expect(e.id).toBe(id);
    expect(e.cause.length).toBeGreaterThan(20);
    expect(e.fix.length).toBeGreaterThan(20);
  });

  it('keeps the sender-thread 432 (STOREDRV) apart from the concurrent-connections 432', () => {
    expect(explainSmtpReply('432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded').id).toBe(
      'too-many-connections',
    );
  });
});

describe('explainExchangeError on the emulated admin API', () => {
  let emu: TestEmulator;
  const CONTOSO = 'contoso.onmicrosoft.com';
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  /** A REST backend signed in as an app of contoso with the given Exchange app roles and directory roles. */
  function backendFor(manageAsApp: boolean, directoryRoles: string[]): RestExchangeBackend {
    const app = addEnterpriseApp(emu, CONTOSO, 'Weak operator');
    const tenant = emu.store.findTenant(CONTOSO)!;
    tenant.servicePrincipals.find((s) => s.entity.id === app.objectId)!.directoryRoles = directoryRoles;
    const exo = tenant.servicePrincipals.find((s) => s.entity.appId === '00000002-0000-0ff1-ce00-000000000000')!;
    if (manageAsApp)
      tenant.appRoleAssignments.push({
        entity: {
          id: randomUUID(),
          appRoleId: 'dc50a0fb-09a3-484d-be87-e023b12c6440',
          principalId: app.objectId,
          resourceId: exo.entity.id,
          principalType: 'ServicePrincipal',
          principalDisplayName: 'Weak operator',
          resourceDisplayName: exo.entity.displayName,
          createdDateTime: new Date().toISOString(),
          deletedDateTime: null,
        },
        meta: { createdAtMs: 0 },
      });
    const credential: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: emu.mintAppToken(CONTOSO, app.appId, 'exchange'),
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
    };
    return new RestExchangeBackend({
      credential,
      adminUrl: emu.endpoints.exchangeAdminUrl,
      scope: 'https://outlook.office365.com/.default',
      tenantId: tenant.id,
      dispatcher: emu.dispatcher,
    });
  }

  async function failure(backend: RestExchangeBackend, cmdlet: string): Promise<ExchangeError> {
    const err = await backend.invoke(cmdlet).catch((e: unknown) => e);
    await backend.close();
    expect(err).toBeInstanceOf(ExchangeError);
    return err as ExchangeError;
  }

  it('"The role assigned to application … isn\'t supported in this scenario" → assign Exchange Administrator', async () => {
    const err = await failure(backendFor(true, []), 'Get-OrganizationConfig');
    expect(err.kind).toBe('access-denied');
    const e = explainExchangeError(err.exchangeMessage);
    expect(e.id).toBe('exchange-role-not-supported');
    expect(e.fix).toContain('Exchange Administrator');
  });

  it('"User is not allowed to call <cmdlet>" → Exchange.ManageAsApp and a role that covers the cmdlet', async () => {
    const noRole = await failure(backendFor(false, ['Exchange Administrator']), 'Get-OrganizationConfig');
    expect(explainExchangeError(noRole.exchangeMessage).id).toBe('exchange-not-allowed');
    const reader = await failure(backendFor(true, ['Global Reader']), 'Set-TransportConfig');
    expect(reader.exchangeMessage).toContain('User is not allowed to call Set-TransportConfig');
    expect(explainExchangeError(reader.exchangeMessage).fix).toContain('Exchange.ManageAsApp');
  });
});
