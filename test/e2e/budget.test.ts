/**
 * Request budget of a no-op rerun (issue 3's targets, grown by issue 11's authoritative access: the app's grants
 * across the tenant are read too, and an unset mailbox access is read from the tenant first): with nothing to
 * change, `apply` and `plan` stay within each case's Graph and Exchange requests, none a write. Counted on the wire in the emulator's request
 * log: an Exchange `$batch` is one request; its items are logged too, as `…/$batch#item` entries carrying their cmdlet
 * (see src/emulator/exchange/batch.ts), and are counted as cmdlets, not as requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { isExchangeBatchItem } from '../../src/emulator/exchange/index.js';
import type { RequestLogEntry } from '../../src/emulator/store.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyOptions, runCli } from '../helpers/cli.js';
import { CONTOSO as TENANT, tempDir } from '../helpers/e2e.js';

const MAILBOXES = ['scanner@contoso.onmicrosoft.com', 'ap@contoso.onmicrosoft.com'];
/**
 * What a no-op run reads in Exchange: the preflight's facts (the accepted domains, each mailbox), then every
 * resource its own state.
 */
// The preflight's mailbox check is their Get-CASMailbox (existence and SMTP AUTH setting in one read); accepted
// domains are read only to explain a mailbox Exchange does not know.
const READS = [
  'Get-CASMailbox',
  'Get-CASMailbox',
  'Get-MailboxPermission',
  'Get-MailboxPermission',
  'Get-OrganizationConfig',
  'Get-ServicePrincipal',
  'Get-TransportConfig',
];

interface Counts {
  graph: number;
  exchange: number;
  exchangeCmdlets: string[];
  writes: RequestLogEntry[];
}

function count(log: RequestLogEntry[]): Counts {
  const exchange = log.filter((e) => e.service === 'exchange');
  return {
    graph: log.filter((e) => e.service === 'graph').length,
    exchange: exchange.filter((e) => !isExchangeBatchItem(e)).length,
    exchangeCmdlets: exchange
      .map((e) => e.cmdlet)
      .filter((c): c is string => c !== undefined)
      .sort(),
    writes: log.filter((e) => e.write && e.service !== 'smtp'),
  };
}

interface BudgetCase {
  /** --mailbox-access of every run (undefined: unset, resolved from the tenant). */
  mode?: string;
  /** --mailbox-access of the first run, when it differs (an app made with full-access, rerun unset). */
  madeWith?: string;
  graph: number;
  exchange: number;
  reads: string[];
}

/**
 * Every mode reads the app's grants across the tenant (authoritative access): Get-Mailbox, Get-RecipientPermission
 * -Trustee, its role assignments (and, outside rbac, its scope by name), then Get-MailboxPermission -User per mailbox
 * of the tenant (4 in the emulator's contoso).
 */
const INVENTORY = [
  'Get-Mailbox',
  'Get-MailboxPermission',
  'Get-MailboxPermission',
  'Get-MailboxPermission',
  'Get-MailboxPermission',
  'Get-ManagementRoleAssignment',
  'Get-RecipientPermission',
];
const sorted = (a: string[]): string[] => [...a].sort();

const CASES: BudgetCase[] = [
  {
    mode: 'full-access',
    graph: 4,
    exchange: 4,
    reads: sorted([...READS, ...INVENTORY, 'Get-ManagementScope']),
  },
  {
    madeWith: 'full-access',
    graph: 4,
    exchange: 5,
    reads: sorted([...READS, ...INVENTORY, 'Get-ManagementScope']),
  },
  {
    graph: 2,
    exchange: 5,
    reads: sorted([
      ...READS.filter((r) => r !== 'Get-MailboxPermission'),
      ...INVENTORY,
      'Get-ManagementRoleAssignment',
      'Get-ManagementScope',
      'Test-ServicePrincipalAuthorization',
      'Test-ServicePrincipalAuthorization',
    ]),
  },
];

describe.each(CASES)('no-op rerun request budget, 2 mailboxes, mailbox access $mode (made with $madeWith)', (k) => {
  let emu: TestEmulator;
  let dir: string;
  const args = (mode = k.mode): string[] =>
    applyOptions({
      mailboxAccess: mode ?? null,
      endpoints: emu.endpointsFile,
      tenant: TENANT,
      mailboxes: MAILBOXES,
      appName: 'Budget SMTP',
      secretOut: path.join(dir, 'secret.json'),
      wait: '1m',
      yes: false,
      json: false,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-budget-');
    const first = await runCli(['apply', ...args(k.madeWith ?? k.mode), '--yes', '--output', 'json']);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => emu.close());

  it('apply: the budget of Graph and Exchange requests, no write, every read still made', async () => {
    await emu.control.clearLog();
    const again = await runCli(['apply', ...args(), '--yes', '--output', 'json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<{ changed: boolean }>().changed).toBe(false);
    const c = count(await emu.control.log());
    console.log(
      `no-op apply (${k.mode ?? 'unset'}${k.madeWith ? `, made with ${k.madeWith}` : ''}): graph ${c.graph}, exchange ${c.exchange} requests for ${c.exchangeCmdlets.length} cmdlets`,
    );
    expect(c.writes).toEqual([]);
    expect(c.graph).toBeLessThanOrEqual(k.graph);
    expect(c.exchange).toBeLessThanOrEqual(k.exchange);
    // Batching must not drop a read: every resource still read its own state.
    expect(c.exchangeCmdlets).toEqual(k.reads);
  });

  it('plan: the same budget', async () => {
    await emu.control.clearLog();
    const plan = await runCli(['plan', ...args(), '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(0);
    const c = count(await emu.control.log());
    console.log(
      `no-op plan (${k.mode ?? 'unset'}): graph ${c.graph}, exchange ${c.exchange} requests for ${c.exchangeCmdlets.length} cmdlets`,
    );
    expect(c.writes).toEqual([]);
    expect(c.graph).toBeLessThanOrEqual(k.graph);
    expect(c.exchange).toBeLessThanOrEqual(k.exchange);
  });

  it('still converges when every third Exchange call is throttled (batch items retried)', async () => {
    await emu.control.clearLog();
    await emu.control.setKnobs({ throttle: { every: 3, services: ['exchange'], retryAfterSeconds: 1 } });
    try {
      const again = await runCli(['plan', ...args(), '--detailed-exitcode']);
      expect(again.code, again.stderr).toBe(0);
      const log = await emu.control.log({ service: 'exchange' });
      expect(count(log).writes).toEqual([]);
      // Some items were refused inside their batch, and every read was answered in the end, once (a scope that is
      // not there answers "not found").
      expect(log.some((e) => isExchangeBatchItem(e) && e.status === 429)).toBe(true);
      const answered = log.filter((e) => e.cmdlet && e.status !== 429).map((e) => e.cmdlet);
      expect(answered.sort()).toEqual(k.reads);
    } finally {
      await emu.control.setKnobs({ throttle: { every: 0, services: [], retryAfterSeconds: 1 } });
    }
  });
});
