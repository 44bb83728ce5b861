/**
 * GDAP: an admin agent of a partner tenant signs in once (device code at the PARTNER's authority) and provisions a
 * CUSTOMER tenant through the partner's delegated-admin relationship, through both Exchange backends (REST
 * InvokeCommand for the customer tenant id; a real pwsh with `Connect-ExchangeOnline -DelegatedOrganization`). An
 * expired relationship and one without the needed roles stop the run in the preflight with no write, saying which
 * roles to grant. The emulator refuses a customer-authority token to a partner user without an active relationship
 * with Entra's AADSTS50020.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { tempDir } from '../helpers/e2e.js';
import { FAST_HOOKS, reportOf, runTenant, type RunFlags } from '../helpers/provision.js';
import { cliEnvFor, describeEachBackend, type BackendName } from '../exchange/backends.js';
import { AGENT, CUSTOMER, EXPIRED, GDAP_SEED, PARTNER, THIN } from '../helpers/gdap.js';

const EXCHANGE_POWERSHELL = 'fb78d390-0c51-40cd-8e17-fdbfab77341b';

/** A form POST to the emulator's token service at a tenant's authority. */
function tokenRequest(emu: TestEmulator, tenant: string, form: Record<string, string>, endpoint = 'token') {
  return emu.request(`/${tenant}/oauth2/v2.0/${endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: EXCHANGE_POWERSHELL, ...form }),
  });
}

/** Approves every device code the run asks for, as the partner's admin agent, until stopped. */
function approveAsAgent(emu: TestEmulator): { stop: () => Promise<string[]> } {
  let running = true;
  const tenants: string[] = [];
  const loop = (async () => {
    while (running) {
      for (const p of await emu.control.pendingDeviceCodes()) {
        tenants.push(p.tenant);
        await emu.control.approveDeviceCode(p.userCode, AGENT);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return tenants;
    },
  };
}

const gdapFlags = (dir: string, tenant: string, name: string): RunFlags => ({
  tenant,
  partnerTenant: PARTNER,
  auth: 'device-code',
  mailbox: [`scanner@${tenant}`],
  appName: name,
  secretOut: path.join(dir, `${name.replace(/\W+/g, '-')}.json`),
  enableSmtpAuth: 'mailbox',
});

describeEachBackend('GDAP: a partner admin agent provisions a customer tenant', (backend: BackendName) => {
  let emu: TestEmulator;
  let dir: string;
  let approver: ReturnType<typeof approveAsAgent>;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: GDAP_SEED });
    dir = tempDir(`sendasapp-gdap-${backend}-`);
    const env = { ...cliEnvFor(backend), SENDASAPP_TEST_EXO_LOG: path.join(dir, 'module.log') };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    if (backend === 'pwsh') process.env.SENDASAPP_PWSH_PASS_ENV = 'SENDASAPP_TEST_EXO_LOG';
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    delete process.env.SENDASAPP_PWSH_PASS_ENV;
    await emu?.close();
  });
  afterEach(async () => {
    await approver?.stop();
  });

  it('signs in once at the partner, works in the customer as the agent, and a rerun writes nothing', async () => {
    approver = approveAsAgent(emu);
    const flags = { ...gdapFlags(dir, CUSTOMER, `GDAP ${backend}`), exchange: backend, wait: '2m' };
    const first = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    const asked = await approver.stop();
    expect(first.result.outcome, JSON.stringify(first.result.failure ?? first.result.verification)).toBe('ok');
    expect(first.result.verification?.status).toBe('passed');
    expect(first.result.exchange?.backend).toBe(backend);
    // One sign-in, at the partner's authority; the customer's tokens came from its refresh token.
    const partnerId = emu.store.findTenant(PARTNER)!.id;
    const customer = emu.store.findTenant(CUSTOMER)!;
    expect(asked).toEqual([partnerId]);
    const deviceCodeCalls = first.log.filter((e) => e.service === 'token' && /\/devicecode$/.test(e.path));
    expect(deviceCodeCalls).toHaveLength(1);
    // Graph and Exchange writes in the customer tenant, made as the partner's agent.
    const agentId = emu.store.findTenant(PARTNER)!.users.find((u) => u.entity.userPrincipalName === AGENT)!.entity.id;
    const customerWrites = first.writes.filter((e) => e.tenantId === customer.id);
    expect(customerWrites.length).toBeGreaterThan(0);
    expect(customerWrites.every((e) => e.caller === AGENT || e.caller === agentId)).toBe(true);
    expect(first.writes.filter((e) => e.tenantId === partnerId)).toEqual([]);
    const appId = first.result.application.appId!;
    const sp = customer.exchange.servicePrincipals.find((s) => s.AppId === appId);
    expect(sp).toBeDefined();
    expect(customer.exchange.mailboxPermissions.filter((p) => p.trustee.id === sp!.Identity)).toHaveLength(1);
    expect(reportOf(first.result, 'partner.delegatedAdmin')?.status).toBe('passed');
    if (backend === 'pwsh') {
      const log = readFileSync(path.join(dir, 'module.log'), 'utf8')
        .split(/\r?\n/)
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const connects = log.filter((e) => e.event === 'connect');
      expect(connects.length).toBeGreaterThan(0);
      expect(connects.every((c) => c.delegatedOrganization === customer.id && !c.organization)).toBe(true);
    } else expect(existsSync(path.join(dir, 'module.log'))).toBe(false);

    approver = approveAsAgent(emu);
    const rerun = await runTenant(emu, flags, 'apply', { hooks: FAST_HOOKS });
    await approver.stop();
    expect(rerun.result.outcome).toBe('ok');
    expect(rerun.writes).toEqual([]);
  });
});

describe('GDAP: the preflight stops a run the relationship does not allow, before any write', () => {
  let emu: TestEmulator;
  let dir: string;
  let approver: ReturnType<typeof approveAsAgent>;
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: GDAP_SEED });
    dir = tempDir('sendasapp-gdap-refused-');
  });
  afterAll(async () => emu?.close());
  afterEach(async () => {
    await approver?.stop();
  });

  /** A run the partner check stops: failed, no write, the partner node's sentence as the run's. */
  async function refused(tenant: string, name: string, extra: RunFlags = {}) {
    approver = approveAsAgent(emu);
    const run = await runTenant(emu, { ...gdapFlags(dir, tenant, name), exchange: 'rest', ...extra }, 'apply');
    expect(run.result.outcome).toBe('failed');
    expect(run.writes).toEqual([]);
    expect(run.result.failure?.key).toBe('partner.delegatedAdmin');
    return { run, message: run.result.failure!.message };
  }

  it('an expired relationship: no write, and the sentence says which relationship to request', async () => {
    const { run, message } = await refused(EXPIRED, 'GDAP expired');
    expect(message).toMatch(/no active GDAP relationship/);
    expect(message).toMatch(/is expired/);
    expect(message).toMatch(/Cloud Application Administrator, Privileged Role Administrator, Exchange Administrator/);
    // Entra refused the customer's tokens to the agent (AADSTS50020): nothing reached the customer's Graph or Exchange.
    const customerId = emu.store.findTenant(EXPIRED)!.id;
    expect(run.log.filter((e) => e.tenantId === customerId && e.service !== 'token')).toEqual([]);
  });

  it('a relationship without Exchange Administrator and consent rights: no write, and the roles to add', async () => {
    const { message } = await refused(THIN, 'GDAP thin');
    expect(message).toMatch(/grants Application Administrator, not/);
    expect(message).toMatch(/add Privileged Role Administrator, Exchange Administrator to the relationship "Thin"/);
  });

  it('with --home-tenant, the home tenant needs its own relationship: an expired one stops the run there', async () => {
    const { message } = await refused(CUSTOMER, 'GDAP home', { homeTenant: EXPIRED });
    expect(message).toMatch(new RegExp(`customer ${EXPIRED.replace(/\./g, '\\.')}`));
    expect(message).toMatch(/is expired/);
  });

  it("Entra refuses the customer's authority to a partner user without an active relationship (AADSTS50020)", async () => {
    approver = approveAsAgent(emu);
    // A device-code sign-in at the partner, then the refresh token redeemed at each customer's authority.
    const start = await tokenRequest(
      emu,
      PARTNER,
      { scope: 'https://graph.microsoft.com/.default offline_access' },
      'devicecode',
    );
    const code = (await start.json()) as { device_code: string };
    let tokens: { refresh_token?: string } = {};
    for (let i = 0; i < 50 && !tokens.refresh_token; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await tokenRequest(emu, PARTNER, { grant_type: 'device_code', device_code: code.device_code });
      tokens = (await res.json()) as typeof tokens;
    }
    expect(tokens.refresh_token).toBeDefined();
    const redeem = (tenant: string, scope = 'https://outlook.office365.com/.default') =>
      tokenRequest(emu, tenant, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope });
    const refused = await redeem(EXPIRED);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: string; error_codes: number[]; error_description: string };
    expect(body.error).toBe('invalid_grant');
    expect(body.error_codes).toEqual([50020]);
    const partnerId = emu.store.findTenant(PARTNER)!.id;
    expect(body.error_description).toContain(
      `User account '${AGENT}' from identity provider 'https://sts.windows.net/${partnerId}/' does not exist in tenant 'Contoso'`,
    );
    const allowed = await redeem(CUSTOMER);
    expect(allowed.status).toBe(200);
    const token = ((await allowed.json()) as { access_token: string }).access_token;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(claims.tid).toBe(emu.store.findTenant(CUSTOMER)!.id);
    expect(claims.idp).toBe(`https://sts.windows.net/${partnerId}/`);
    // Exchange refuses what the relationship's roles do not allow: the thin relationship has no Exchange role.
    const thin = await redeem(THIN);
    const thinToken = ((await thin.json()) as { access_token: string }).access_token;
    const thinId = emu.store.findTenant(THIN)!.id;
    const denied = await emu.request(`${emu.endpoints.exchangeAdminUrl}/${thinId}/InvokeCommand`, {
      method: 'POST',
      token: thinToken,
      json: { CmdletInput: { CmdletName: 'Get-Mailbox', Parameters: {} } },
    });
    expect(denied.status).toBeGreaterThanOrEqual(400);
    const deniedBody = (await denied.json()) as { error: { details: Array<{ message: string }> } };
    expect(deniedBody.error.details[0]!.message).toContain(
      `The user "${AGENT}" isn't assigned to any management roles.`,
    );
    // And Graph refuses writes the roles do not cover (Application Administrator cannot grant app roles).
    const graphThin = await redeem(THIN, 'https://graph.microsoft.com/.default');
    const graphToken = ((await graphThin.json()) as { access_token: string }).access_token;
    const t = emu.store.findTenant(THIN)!;
    const exo = t.servicePrincipals.find((s) => s.entity.appId === '00000002-0000-0ff1-ce00-000000000000')!;
    const grant = await emu.request(
      `${emu.endpoints.graphBaseUrl}/servicePrincipals/${exo.entity.id}/appRoleAssignedTo`,
      {
        method: 'POST',
        token: graphToken,
        json: { principalId: exo.entity.id, resourceId: exo.entity.id, appRoleId: exo.entity.appRoles[0]!.id },
      },
    );
    expect(grant.status).toBe(403);
    expect(((await grant.json()) as { error: { code: string } }).error.code).toBe('Authorization_RequestDenied');
  });

  it("lists the partner's relationships to a reader, and refuses an app without DelegatedAdminRelationship.Read.All", async () => {
    const url = `${emu.endpoints.graphBaseUrl}/tenantRelationships/delegatedAdminRelationships`;
    const operator = emu.mintAppToken(PARTNER, emu.endpoints.operator.clientId, 'graph');
    const refused = await emu.request(url, { token: operator });
    expect(refused.status).toBe(403);
    const customerId = emu.store.findTenant(CUSTOMER)!.id;
    // The agent's delegated token in the partner tenant (what the preflight uses), filtered by customer.
    approver = approveAsAgent(emu);
    const start = await tokenRequest(emu, PARTNER, { scope: 'https://graph.microsoft.com/.default' }, 'devicecode');
    const code = (await start.json()) as { device_code: string };
    let token: string | undefined;
    for (let i = 0; i < 50 && !token; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await tokenRequest(emu, PARTNER, { grant_type: 'device_code', device_code: code.device_code });
      token = ((await res.json()) as { access_token?: string }).access_token;
    }
    const listed = await emu.request(`${url}?$filter=customer/tenantId eq '${customerId}'`, { token });
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as {
      value: Array<{ status: string; customer: { tenantId: string }; accessDetails: { unifiedRoles: unknown[] } }>;
    };
    expect(body.value).toHaveLength(1);
    expect(body.value[0]).toMatchObject({ status: 'active', customer: { tenantId: customerId } });
    expect(body.value[0]!.accessDetails.unifiedRoles).toEqual([
      { roleDefinitionId: '158c047a-c907-4556-b7ef-446551a6b5f7' },
      { roleDefinitionId: '29232cdf-9323-42fd-ade2-1d097af3e4de' },
    ]);
  });
});
