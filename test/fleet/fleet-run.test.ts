/**
 * A fleet of 20 emulator tenants in this process (`apply --fleet … --output jsonl`): one names a mailbox that does
 * not exist, one waits for an administrator's consent, one is throttled (its Graph and Exchange calls go through a
 * proxy answering every third one 429 + Retry-After). Each ends with its own right result, the others are not held
 * up, the fleet exits 1 with the counts, and a rerun writes nothing (the emulator's request log).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fleetCommand } from '../../src/cli/fleet-command.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { setOperatorRoles, tempDir } from '../helpers/e2e.js';
import { lastSeq, logSince, writesOf } from '../helpers/provision.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';

const TENANTS = 20;
const domain = (i: number): string => `tenant${i}.onmicrosoft.com`;
const BAD = 5;
const THROTTLED = 7;
const WAITING = 19;
const HOME_OF_WAITING = 20;

/** Runs the fleet command in this process; returns its exit code and the JSON lines it printed on stdout. */
async function fleet(flags: Record<string, unknown>): Promise<{ code: number; lines: any[]; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await fleetCommand('apply', { yes: true, output: 'jsonl', ...flags }, {});
    return {
      code,
      lines: out
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      stderr: err.join(''),
    };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

describe('apply --fleet: 20 tenants, one with a bad mailbox, one waiting for consent, one throttled', () => {
  let emu: TestEmulator;
  let proxy: ThrottleProxy;
  let dir: string;
  let file: string;
  let first: Awaited<ReturnType<typeof fleet>>;

  beforeAll(async () => {
    emu = await startTestEmulator({ seed: { generate: { tenants: TENANTS, mailboxesPerTenant: 2 } } });
    dir = tempDir('sendasapp-fleet-run-');
    mkdirSync(path.join(dir, 'secrets'));
    proxy = await startThrottleProxy(emu, { every: 3, retryAfterSeconds: 1, dir });
    // The waiting tenant's administrator consented the operator for reading apps and Exchange, not for installing apps.
    setOperatorRoles(emu, domain(WAITING), ['Application.Read.All', 'Exchange.ManageAsApp']);
    const tenants = Array.from({ length: TENANTS }, (_, k) => {
      const i = k + 1;
      const entry: Record<string, unknown> = {
        name: `customer-${i}`,
        tenant: domain(i),
        mailboxes: [`admin@${domain(i)}`, `user1@${domain(i)}`],
        secretOut: `secrets/${i}.json`,
      };
      if (i === BAD) entry.mailboxes = [`admin@${domain(i)}`, `nobody@${domain(i)}`];
      if (i === THROTTLED) entry.endpoints = proxy.endpointsFile;
      if (i === WAITING)
        Object.assign(entry, { homeTenant: domain(HOME_OF_WAITING), appName: 'Waiting Relay', wait: '3s' });
      return entry;
    });
    file = path.join(dir, 'fleet.yaml');
    writeFileSync(
      file,
      stringify({
        defaults: {
          endpoints: emu.endpointsFile,
          appName: 'Fleet Relay',
          enableSmtpAuth: 'mailbox',
          wait: '30s',
          exchange: 'rest',
        },
        tenants,
      }),
    );
    first = await fleet({ fleet: file, parallel: '6' });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await emu?.close();
  });

  const byName = (lines: any[], i: number): any => lines.find((l) => l.type === 'tenant' && l.name === `customer-${i}`);

  it('prints one line per tenant and a summary: 18 ok, 1 bad-input, 1 waiting, exit 1', () => {
    const tenantLines = first.lines.filter((l) => l.type === 'tenant');
    expect(tenantLines.map((l) => l.name).sort()).toEqual(
      Array.from({ length: TENANTS }, (_, k) => `customer-${k + 1}`).sort(),
    );
    const summary = first.lines.at(-1);
    expect(summary).toMatchObject({ type: 'summary', command: 'apply', tenants: TENANTS, exitCode: 1 });
    expect(summary.counts).toEqual({ ok: 18, 'bad-input': 1, waiting: 1 });
    expect(first.code).toBe(1);
    expect(Date.parse(summary.finishedAt)).toBeGreaterThanOrEqual(Date.parse(summary.startedAt));
  });

  it('gives every good tenant its own app, proof and exit 0, with the result apply --output json prints', () => {
    for (let i = 1; i <= TENANTS; i++) {
      if ([BAD, WAITING].includes(i)) continue;
      const l = byName(first.lines, i);
      expect(l.exitCode, JSON.stringify(l.result.error ?? l.result.resources)).toBe(0);
      expect(l.tenant).toBe(domain(i));
      expect(l.result).toMatchObject({ command: 'apply', outcome: 'ok', changed: true });
      expect(l.result.tenant).toBe(emu.store.findTenant(domain(i))!.id);
      expect(l.result.verification.status).toBe('passed');
      expect(l.result.mailboxes).toEqual([`admin@${domain(i)}`, `user1@${domain(i)}`]);
    }
    const appIds = new Set(
      first.lines.filter((l) => l.result?.application?.appId).map((l) => l.result.application.appId),
    );
    expect(appIds.size).toBe(TENANTS - 1);
  });

  it('the tenant with a bad mailbox is bad input naming the mailbox, and nothing was written there', () => {
    const l = byName(first.lines, BAD);
    expect(l.exitCode).toBe(2);
    expect(l.result.outcome).toBe('bad-input');
    expect(l.result.error.message).toContain(`nobody@${domain(BAD)}`);
    const id = emu.store.findTenant(domain(BAD))!.id;
    expect(writesOf(emu.store.log).filter((e) => e.tenantId === id)).toEqual([]);
  });

  it('the tenant without consent waits (exit 3) with the consent URL, the others did not wait for it', () => {
    const l = byName(first.lines, WAITING);
    expect(l.exitCode).toBe(3);
    expect(l.result.outcome).toBe('waiting');
    const sp = l.result.resources.find((r: any) => r.key === 'entra.servicePrincipal');
    expect(sp.status).toBe('waiting');
    expect(sp.message).toMatch(/v2\.0\/adminconsent\?/);
  });

  it('the throttled tenant was answered 429 and still ended ok; the other tenants never went through the proxy', () => {
    expect(proxy.throttled.graph + proxy.throttled.exchange).toBeGreaterThan(0);
    expect(byName(first.lines, THROTTLED).result.outcome).toBe('ok');
    const throttledId = emu.store.findTenant(domain(THROTTLED))!.id;
    const exchangePaths = proxy.paths.filter((p) => p.startsWith('/adminapi/'));
    expect(exchangePaths.length).toBeGreaterThan(0);
    expect(exchangePaths.filter((p) => !p.includes(throttledId))).toEqual([]);
  });

  it('a rerun changes nothing and writes nothing (the waiting tenant still waits for its administrator)', async () => {
    const from = lastSeq(emu);
    const again = await fleet({ fleet: file, parallel: '6' });
    const log = logSince(emu, from);
    const waitingId = emu.store.findTenant(domain(WAITING))!.id;
    expect(writesOf(log).filter((e) => e.tenantId !== waitingId)).toEqual([]);
    const tenantLines = again.lines.filter((l) => l.type === 'tenant');
    expect(tenantLines.filter((l) => l.result.changed)).toEqual([]);
    expect(again.lines.at(-1).counts).toEqual({ ok: 18, 'bad-input': 1, waiting: 1 });
    expect(again.code).toBe(1);
  }, 120_000);
});
