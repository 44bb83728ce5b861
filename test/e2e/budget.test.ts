/**
 * Request budget of a no-op rerun (issue 3's targets): with nothing to change, `apply` and `plan` make at most 4 Graph
 * requests and at most 2 + 1 per mailbox Exchange requests, none a write. Counted on the wire in the emulator's request
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

describe('no-op rerun request budget, 2 mailboxes', () => {
  let emu: TestEmulator;
  let dir: string;
  const args = (): string[] =>
    applyOptions({
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
    const first = await runCli(['apply', ...args(), '--yes', '--output', 'json']);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => emu.close());

  it('apply: <= 4 Graph and <= 2 + 2 Exchange requests, no write, every read still made', async () => {
    await emu.control.clearLog();
    const again = await runCli(['apply', ...args(), '--yes', '--output', 'json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<{ changed: boolean }>().changed).toBe(false);
    const c = count(await emu.control.log());
    console.log(
      `no-op apply: graph ${c.graph}, exchange ${c.exchange} requests for ${c.exchangeCmdlets.length} cmdlets`,
    );
    expect(c.writes).toEqual([]);
    expect(c.graph).toBeLessThanOrEqual(4);
    expect(c.exchange).toBeLessThanOrEqual(2 + MAILBOXES.length);
    // Batching must not drop a read: every resource still read its own state.
    expect(c.exchangeCmdlets).toEqual(READS);
  });

  it('plan: the same budget', async () => {
    await emu.control.clearLog();
    const plan = await runCli(['plan', ...args(), '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(0);
    const c = count(await emu.control.log());
    console.log(
      `no-op plan: graph ${c.graph}, exchange ${c.exchange} requests for ${c.exchangeCmdlets.length} cmdlets`,
    );
    expect(c.writes).toEqual([]);
    expect(c.graph).toBeLessThanOrEqual(4);
    expect(c.exchange).toBeLessThanOrEqual(2 + MAILBOXES.length);
  });

  it('still converges when every third Exchange call is throttled (batch items retried)', async () => {
    await emu.control.clearLog();
    await emu.control.setKnobs({ throttle: { every: 3, services: ['exchange'], retryAfterSeconds: 1 } });
    try {
      const again = await runCli(['plan', ...args(), '--detailed-exitcode']);
      expect(again.code, again.stderr).toBe(0);
      const log = await emu.control.log({ service: 'exchange' });
      expect(count(log).writes).toEqual([]);
      // Some items were refused inside their batch, and every read was answered in the end, once.
      expect(log.some((e) => isExchangeBatchItem(e) && e.status === 429)).toBe(true);
      const answered = log.filter((e) => e.cmdlet && e.status === 200).map((e) => e.cmdlet);
      expect(answered.sort()).toEqual(READS);
    } finally {
      await emu.control.setKnobs({ throttle: { every: 0, services: [], retryAfterSeconds: 1 } });
    }
  });
});
