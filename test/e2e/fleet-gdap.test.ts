/**
 * A consultant's fleet through GDAP: `apply --fleet` over three customer tenants with the partner's admin agent
 * signed in by device code — asked once for the whole fleet (the emulator's device-code endpoint is called once),
 * each customer provisioned with the agent's delegated rights, and a customer whose relationship has ended fails on
 * its own (in its preflight, with nothing written there) while the others pass. Exit 1 with the counts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Seed } from '../../src/emulator/seed.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/e2e.js';

const PARTNER = 'partner.onmicrosoft.com';
const AGENT = `agent@${PARTNER}`;
const CUSTOMERS = ['contoso.onmicrosoft.com', 'fabrikam.onmicrosoft.com'];
const ENDED = 'tailspin.onmicrosoft.com';

const SEED: Seed = {
  tenants: [
    ...[...CUSTOMERS, ENDED].map((domain) => ({ domain })),
    { domain: PARTNER, mailboxes: ['agent'], groups: [] },
  ],
  delegatedAdmin: [
    ...CUSTOMERS.map((customer) => ({
      partner: PARTNER,
      customer,
      roles: ['Cloud Application Administrator', 'Privileged Role Administrator', 'Exchange Administrator'],
      agents: ['agent'],
    })),
    { partner: PARTNER, customer: ENDED, roles: ['Global Administrator'], agents: ['agent'], endsInDays: -3 },
  ],
};

describe('a fleet of customer tenants through GDAP', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: SEED });
    dir = tempDir('sendasapp-e2e-fleet-gdap-');
  });
  afterAll(async () => emu?.close());

  it('signs the agent in once for every customer; the ended relationship fails alone, with nothing written there', async () => {
    mkdirSync(path.join(dir, 'secrets'));
    const fleet = path.join(dir, 'fleet.yaml');
    writeFileSync(
      fleet,
      stringify({
        defaults: {
          endpoints: emu.endpointsFile,
          partnerTenant: PARTNER,
          auth: 'device-code',
          appName: 'Fleet GDAP sender',
          enableSmtpAuth: 'mailbox',
          exchange: 'rest',
          wait: '2m',
        },
        tenants: [...CUSTOMERS, ENDED].map((tenant) => ({
          name: tenant.split('.')[0],
          tenant,
          mailboxes: [`ap@${tenant}`],
          secretOut: `secrets/${tenant.split('.')[0]}.json`,
        })),
      }),
    );
    let approvals = 0;
    const approving = (async () => {
      for (let i = 0; i < 300 && approvals === 0; i++) {
        const pending = await emu.control.pendingDeviceCodes();
        if (pending[0]) {
          await emu.control.approveDeviceCode(pending[0].userCode, AGENT);
          approvals++;
        } else await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await emu.control.clearLog();
    const r = await runCli(['apply', '--fleet', fleet, '--output', 'json', '--parallel', '3'], { timeoutMs: 240_000 });
    await approving;
    expect(approvals).toBe(1);
    const out = JSON.parse(r.stdout);
    const byName = Object.fromEntries(out.tenants.map((t: any) => [t.name, t]));
    for (const c of CUSTOMERS) {
      const t = byName[c.split('.')[0]!];
      expect(t.result.outcome, JSON.stringify(t.result.error)).toBe('ok');
      expect(t.result.verification.status).toBe('passed');
    }
    const ended = byName.tailspin;
    expect(ended.result.outcome).not.toBe('ok');
    expect(ended.result.error.message).toMatch(/relationship|AADSTS50020/i);
    expect(r.code).toBe(1);
    expect(out.summary.counts.ok).toBe(2);

    const log = await emu.control.log();
    // One device code for the whole fleet.
    expect(log.filter((e) => e.service === 'token' && /\/devicecode$/.test(e.path))).toHaveLength(1);
    // Every write was the agent's, in a customer with an active relationship; none in the ended one or the partner.
    const writes = log.filter((e) => e.write && e.service !== 'smtp');
    const ids = (d: string): string => emu.store.findTenant(d)!.id;
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((e) => e.caller === AGENT)).toBe(true);
    expect(new Set(writes.map((e) => e.tenantId))).toEqual(new Set(CUSTOMERS.map(ids)));
  }, 300_000);
});
