/**
 * Fleet result files made from REAL runs: the single-tenant CLI (`apply --output json`) against an emulator with five
 * tenants — two that end ok (one with --show-secret, so a secret is in its result), one with a mailbox that does not
 * exist (bad input), one waiting for admin consent, one with a 20-day secret (inside the 30-day warning window) under
 * a fleet entry name holding `<script>` — each result wrapped in the fleet contract (a `tenant` line per tenant, then
 * a `summary`), as one run's file, as the JSON form, and as three shard files; then shard 1/3 run again after the
 * administrator consented (its tenants twice, later). Last, `status` of two tenants: the 20-day secret, and one
 * mailbox more in the configuration than was applied (drift).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, applyOptions, runCli, type ApplyArgs } from '../helpers/cli.js';
import { setOperatorRoles, tempDir } from '../helpers/e2e.js';

const domain = (label: string): string => `${label}.onmicrosoft.com`;
export const SCRIPT_NAME = 'Woodgrove <script>alert("x")</script>';

interface Entry {
  name: string;
  shard: string;
  args: Omit<ApplyArgs, 'endpoints'>;
  extra?: string[];
}

export interface TenantLine {
  name: string;
  tenant: string;
  shard?: string;
  exitCode: number;
  result: Record<string, any>;
}

interface Ran {
  line: TenantLine;
  startedAt: string;
  finishedAt: string;
}

export interface FleetFixtures {
  dir: string;
  /** One unsharded run of all five tenants (JSONL). */
  oneRun: string;
  /** The same run in the JSON form. */
  oneRunJson: string;
  /** The three shards (JSONL), each a run of its own tenants. */
  shards: string[];
  /** Shard 1/3 run again after the consent: its tenants again, later. */
  rerun: string;
  /** A fleet `status` run of two tenants (JSONL): one credential inside the window, one tenant with drift. */
  statusRun: string;
  /** The secret --show-secret put into one result (it must never reach a report). */
  secret: string;
  /** Every tenant line, by fleet entry name. */
  lines: Record<string, TenantLine>;
  /** Writes a JSONL file of some tenant lines with their summary. */
  writeJsonl(name: string, lines: TenantLine[], o?: { shard?: string; summary?: boolean }): string;
}

function fleetExit(codes: number[]): number {
  if (codes.some((c) => c === 1 || c === 2)) return 1;
  if (codes.some((c) => c === 3)) return 3;
  return 0;
}

function summary(ran: Ran[], shard?: string): Record<string, unknown> {
  const counts: Record<string, number> = {};
  for (const r of ran) counts[r.line.result.outcome] = (counts[r.line.result.outcome] ?? 0) + 1;
  return {
    type: 'summary',
    command: 'apply',
    tenants: ran.length,
    counts,
    exitCode: fleetExit(ran.map((r) => r.line.exitCode)),
    ...(shard ? { shard } : {}),
    startedAt: ran.map((r) => r.startedAt).sort()[0],
    finishedAt: ran
      .map((r) => r.finishedAt)
      .sort()
      .at(-1),
  };
}

const jsonl = (ran: Ran[], shard?: string, command = 'apply'): string =>
  [
    ...ran.map((r) => JSON.stringify({ type: 'tenant', ...r.line, ...(shard ? { shard } : {}) })),
    JSON.stringify({ ...summary(ran, shard), command }),
  ].join('\n') + '\n';

async function runEntry(emu: TestEmulator, dir: string, e: Entry, command = 'apply'): Promise<Ran> {
  const startedAt = new Date().toISOString();
  const args = { ...e.args, endpoints: emu.endpointsFile, secretOut: path.join(dir, `${e.args.tenant}.json`) };
  const r = await runCli(
    command === 'apply'
      ? applyArgs(args, ...(e.extra ?? []))
      : [command, ...applyOptions({ ...args, yes: false }, ...(e.extra ?? []))],
  );
  const finishedAt = new Date().toISOString();
  if (r.code === null) throw new Error(`apply for ${e.name} did not end: ${r.stderr}`);
  return {
    line: { name: e.name, tenant: e.args.tenant, exitCode: r.code, result: r.json() },
    startedAt,
    finishedAt,
  };
}

/** Runs the five tenants (and the rerun), writes the files into a new temp dir. */
export async function makeFleetFixtures(): Promise<FleetFixtures> {
  const labels = ['contoso', 'fabrikam', 'northwind', 'tailspin', 'woodgrove'];
  const emu = await startTestEmulator({ seed: { tenants: labels.map((l) => ({ domain: domain(l) })) } });
  const dir = tempDir('sendasapp-report-');
  try {
    // Tailspin's administrator has not consented: the operator may read apps and run Exchange, not add apps.
    setOperatorRoles(emu, domain('tailspin'), ['Application.Read.All', 'Exchange.ManageAsApp']);
    const entries: Entry[] = [
      {
        name: 'Contoso HQ',
        shard: '1/3',
        args: {
          tenant: domain('contoso'),
          mailboxes: [`scanner@${domain('contoso')}`, `ap@${domain('contoso')}`],
          appName: 'Scanner SMTP',
        },
        extra: ['--show-secret'],
      },
      {
        name: 'Tailspin Toys',
        shard: '1/3',
        args: {
          homeTenant: domain('contoso'),
          tenant: domain('tailspin'),
          mailboxes: [`scanner@${domain('tailspin')}`],
          appName: 'Tailspin Mailer',
          wait: '2s',
        },
      },
      {
        name: 'Fabrikam',
        shard: '2/3',
        args: {
          tenant: domain('fabrikam'),
          group: 'smtp-senders',
          mailboxAccess: 'rbac',
          appName: 'Fabrikam ERP',
        },
      },
      {
        name: SCRIPT_NAME,
        shard: '2/3',
        args: {
          tenant: domain('woodgrove'),
          mailboxes: [`it@${domain('woodgrove')}`],
          mailboxAccess: 'send-as',
          appName: 'Payroll <b>bold</b> & "Co"',
        },
        extra: ['--secret-lifetime', '20d'],
      },
      {
        name: 'Northwind',
        shard: '3/3',
        args: {
          tenant: domain('northwind'),
          mailboxes: [`nobody@${domain('northwind')}`],
          appName: 'Northwind Invoices',
        },
      },
    ];
    const ran = await Promise.all(entries.map((e) => runEntry(emu, dir, e)));
    const byName = new Map(ran.map((r) => [r.line.name, r]));
    const shardOf = new Map(entries.map((e) => [e.name, e.shard]));
    const write = (name: string, text: string): string => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const oneRun = write('fleet-apply.jsonl', jsonl(ran));
    const oneRunJson = write(
      'fleet-apply.json',
      JSON.stringify({
        command: 'apply',
        tenants: ran.map((r) => r.line),
        summary: (({ type: _t, ...rest }) => rest)(summary(ran)),
      }),
    );
    const shards = ['1/3', '2/3', '3/3'].map((k) =>
      write(
        `shard-${k[0]}-of-3.jsonl`,
        jsonl(
          ran.filter((r) => shardOf.get(r.line.name) === k),
          k,
        ),
      ),
    );
    // The administrator consents; shard 1/3 runs again.
    setOperatorRoles(emu, domain('tailspin'), [
      'Application.ReadWrite.All',
      'AppRoleAssignment.ReadWrite.All',
      'Policy.Read.All',
      'Exchange.ManageAsApp',
    ]);
    const again = await Promise.all(
      entries
        .filter((e) => e.shard === '1/3')
        .map((e) => runEntry(emu, dir, { ...e, extra: [], args: { ...e.args, wait: '30s' } })),
    );
    const rerun = write('shard-1-of-3.rerun.jsonl', jsonl(again, '1/3'));
    const entry = (name: string): Entry => entries.find((e) => e.name === name)!;
    const contoso = entry('Contoso HQ');
    const statused = await Promise.all([
      runEntry(emu, dir, { ...entry(SCRIPT_NAME), shard: '' }, 'status'),
      runEntry(
        emu,
        dir,
        {
          ...contoso,
          extra: [],
          args: { ...contoso.args, mailboxes: [...contoso.args.mailboxes!, `it@${domain('contoso')}`] },
        },
        'status',
      ),
    ]);
    const statusRun = write('fleet-status.jsonl', jsonl(statused, undefined, 'status'));
    const secret = byName.get('Contoso HQ')!.line.result.credential?.secret as string;
    const lines = Object.fromEntries(ran.map((r) => [r.line.name, r.line]));
    return {
      dir,
      oneRun,
      oneRunJson,
      shards,
      rerun,
      statusRun,
      secret,
      lines,
      writeJsonl(name, picked, o = {}) {
        const rs = picked.map(
          (l) =>
            byName.get(l.name) ?? {
              line: l,
              startedAt: new Date().toISOString(),
              finishedAt: new Date().toISOString(),
            },
        );
        const text = jsonl(rs, o.shard);
        return write(name, o.summary === false ? text.split('\n').slice(0, -2).join('\n') + '\n' : text);
      },
    };
  } finally {
    await emu.close();
  }
}
