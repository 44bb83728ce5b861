/**
 * `plan | apply | status | handoff --fleet fleet.yaml`: the same command for every tenant of a fleet file, tenants
 * side by side in this process (each its own TenantRun, rendered by tenant-command.ts), one operator sign-in and
 * one Ctrl-C/SIGTERM handler for all. Output: progress on stderr (live on a terminal), and on stdout the results —
 * `--output jsonl` one line per tenant as each ends plus a summary line, `--output json` one object at the end,
 * text a line per tenant and the counts. Also `sendasapp fleet matrix` and `sendasapp fleet schema`.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_PARALLEL,
  fleetFileSchema,
  fleetJsonSchema,
  parseShard,
  readFleet,
  type Fleet,
  type FleetEntry,
  type Shard,
} from '../config/index.js';
import { ConfigError } from '../config/index.js';
import {
  countOutcomes,
  fleetExitCode,
  inShard,
  matrixFor,
  MATRIX_FORMATS,
  runFleet,
  shardText,
  type FleetOutcome,
  type MatrixFormat,
} from '../fleet/index.js';
import { resolveCloud, signInOperator, type OperatorSignIn } from '../auth/index.js';
import { CliError, ExitCode, fromConfigError, isConfigError, toCliError } from './exit-codes.js';
import { fleetProgress, type FleetProgress } from './fleet-progress.js';
import { FLEET_FLAGS } from './fleet-options.js';
import { interruptible, signalExitCode, type TenantCommand } from './tenant-command.js';
import type { CommandFlags } from './provision-commands.js';

export type FleetCommandName = 'plan' | 'apply' | 'status' | 'handoff' | 'verify';
export type FleetOutput = 'text' | 'json' | 'jsonl';

/** One tenant's line of `--output jsonl` (and, without `type`, an item of `--output json`'s `tenants`). */
export interface FleetTenantLine {
  type: 'tenant';
  name: string;
  tenant: string;
  shard?: string;
  exitCode: number;
  result: Record<string, unknown>;
}

export interface FleetSummaryLine {
  type: 'summary';
  command: FleetCommandName;
  tenants: number;
  counts: Record<string, number>;
  exitCode: number;
  shard?: string;
  startedAt: string;
  finishedAt: string;
  error?: { code: string; message: string; field?: string };
}

interface Settings {
  output: FleetOutput;
  parallel: number;
  failFast: boolean;
  shard?: Shard;
  /** --report: the report file written after the run (HTML, or Markdown for a .md name). */
  report?: string;
}

const OUTPUTS: FleetOutput[] = ['text', 'json', 'jsonl'];

function fleetValue(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  key: string,
): { value: unknown; field: string } | undefined {
  const spec = FLEET_FLAGS.find((f) => f.key === key)!;
  if (flags[key] !== undefined) return { value: flags[key], field: /--[a-z-]+/.exec(spec.flag)![0] };
  if (env[spec.env] !== undefined && env[spec.env] !== '') return { value: env[spec.env], field: spec.env };
  return undefined;
}

/** The runner's settings: flags > SENDASAPP_* > the fleet file's own keys > defaults. */
function settingsOf(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  fleet: Pick<Fleet, 'parallel' | 'failFast'>,
): Settings {
  const output = (flags.output ?? env.SENDASAPP_OUTPUT ?? 'text') as string;
  if (!OUTPUTS.includes(output as FleetOutput))
    throw new ConfigError(
      flags.output !== undefined ? '--output' : 'SENDASAPP_OUTPUT',
      `must be one of ${OUTPUTS.join(', ')} with --fleet`,
    );
  const p = fleetValue(flags, env, 'parallel');
  let parallel = fleet.parallel ?? DEFAULT_PARALLEL;
  if (p) {
    const n = Number(p.value);
    const r = fleetFileSchema.shape.parallel.safeParse(/^\s*\d+\s*$/.test(String(p.value)) ? n : NaN);
    if (!r.success) throw new ConfigError(p.field, r.error.issues[0]!.message);
    parallel = r.data!;
  }
  const f = fleetValue(flags, env, 'failFast');
  let failFast = fleet.failFast ?? false;
  if (f) {
    if (typeof f.value === 'boolean') failFast = f.value;
    else if (/^(1|true|yes|on)$/i.test(String(f.value))) failFast = true;
    else if (/^(0|false|no|off)$/i.test(String(f.value))) failFast = false;
    else throw new ConfigError(f.field, 'must be true or false');
  }
  const s = fleetValue(flags, env, 'shard');
  const r = fleetValue(flags, env, 'report');
  if (r && (typeof r.value !== 'string' || r.value.trim() === ''))
    throw new ConfigError(r.field, 'must be a file name (report.html, or report.md for Markdown)');
  return {
    output: output as FleetOutput,
    parallel,
    failFast,
    ...(s ? { shard: parseShard(String(s.value), s.field) } : {}),
    ...(r ? { report: String(r.value) } : {}),
  };
}

/** The fleet file and the settings, validated as a whole before anything runs (bad input: exit 2). */
export function loadFleet(
  command: FleetCommandName,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): { fleet: Fleet; settings: Settings; entries: FleetEntry[] } {
  const file = (flags.fleet ?? env.SENDASAPP_FLEET) as string;
  if (flags.file !== undefined)
    throw new ConfigError(
      '--file',
      'cannot be combined with --fleet (the fleet file holds the defaults: put them under defaults:)',
    );
  // Each tenant's run prints its one JSON result to the fleet, which prints text, json or jsonl itself.
  const { SENDASAPP_OUTPUT: _output, ...tenantEnv } = env;
  const perTenantFlags: Record<string, unknown> = { ...flags, output: 'json' };
  for (const f of FLEET_FLAGS) delete perTenantFlags[f.key];
  if (command === 'verify')
    for (const [attr, flag] of [
      ['clientId', '--client-id'],
      ['secretFile', '--secret-file'],
      ['certificate', '--certificate'],
    ] as const)
      if (flags[attr] !== undefined)
        throw new ConfigError(
          flag,
          "is per tenant with --fleet: verify proves each entry's app with its secretOut (or certificateFile) and its appId (or the client id its secretOut file holds)",
        );
  const fleet = readFleet(file, {
    flags: perTenantFlags,
    env: tenantEnv,
    needMailboxes: true,
    ...(command === 'verify' ? { sources: { defaults: { wait: '0' }, proofOnly: true } } : {}),
  });
  const settings = settingsOf(flags, env, fleet);
  if (command === 'handoff')
    for (const e of fleet.entries)
      if (!e.options.target)
        throw new ConfigError(
          `${file}: tenants[${e.index}] (${e.name}): target`,
          'is required for handoff: give target in the entry or in defaults',
        );
  const entries = settings.shard ? inShard(fleet.entries, settings.shard) : fleet.entries;
  return { fleet, settings, entries };
}

/** One operator sign-in per cloud and sign-in mode of the fleet (usually one), shared by its tenants. */
function operatorSignIns(
  signal: AbortSignal,
  progress: FleetProgress,
  isTty: boolean,
): (e: FleetEntry) => OperatorSignIn {
  const byKey = new Map<string, OperatorSignIn>();
  const keyOf = (e: FleetEntry): string =>
    [e.options.auth, e.options.cloud, e.options.endpoints, e.options.partnerTenant, e.options.tokenCache].join('|');
  // Made when a tenant first needs it (verify needs none), then shared by every tenant of the same key.
  return (e) => {
    const key = keyOf(e);
    let signIn = byKey.get(key);
    if (!signIn) {
      signIn = signInOperator({
        auth: e.options.auth,
        profile: resolveCloud(e.options),
        tenant: e.options.homeTenant ?? e.options.tenant,
        isTty,
        prompt: (m) => progress.note(m),
        bounds: { timeoutMs: e.options.timeout.ms, signal },
        partnerTenant: e.options.partnerTenant,
        tokenCache: e.options.tokenCache,
      });
      byKey.set(key, signIn);
    }
    return signIn;
  };
}

async function tenantCommandFor(
  command: Exclude<FleetCommandName, 'verify'>,
  e: FleetEntry,
  flags: CommandFlags,
): Promise<TenantCommand> {
  if (command === 'handoff') return (await import('./handoff-command.js')).handoffTenantCommand(e.options);
  const p = await import('./provision-commands.js');
  const make = { plan: p.planTenantCommand, apply: p.applyTenantCommand, status: p.statusTenantCommand }[command];
  return make(e.options, flags);
}

interface TenantOutcome {
  outcome: FleetOutcome;
  exitCode: number;
  line: FleetTenantLine;
}

export async function fleetCommand(
  command: FleetCommandName,
  flags: CommandFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const startedAt = new Date().toISOString();
  let loaded: ReturnType<typeof loadFleet>;
  try {
    loaded = loadFleet(command, flags, env);
  } catch (err) {
    const e = isConfigError(err) ? fromConfigError(err) : toCliError(err);
    const output = flags.output ?? env.SENDASAPP_OUTPUT;
    // jsonl readers (a pipeline's merge job) still get a summary line saying why nothing ran.
    if (output === 'jsonl') {
      process.stderr.write(`error: ${e.message}\n`);
      writeLine(summaryLine(command, [], e.exitCode, { startedAt, error: e.toJSON().error }));
      return e.exitCode;
    }
    throw e;
  }
  const { settings, entries } = loaded;
  const shard = settings.shard ? shardText(settings.shard) : undefined;
  const isTty = Boolean(process.stderr.isTTY);
  const progress = fleetProgress({
    tty: isTty,
    total: entries.length,
    write: (s) => void process.stderr.write(s),
    columns: () => process.stderr.columns || 100,
  });
  // One handler for the fleet: the first Ctrl-C/SIGTERM starts no new tenant and stops the running ones at their
  // next safe point (each run's own interrupt handling); a second ends the process at once.
  const { signal, which, dispose } = interruptible();
  // Every running tenant, and every token request of the shared sign-in, listens on it: not a leak.
  setMaxListeners(0, signal);
  signal.addEventListener(
    'abort',
    () =>
      progress.note(
        `Stopping on ${which() ?? 'a signal'}: no tenant starts now; the running ones stop at a safe point.`,
      ),
    { once: true },
  );
  const operatorOf = operatorSignIns(signal, progress, Boolean(process.stdin.isTTY && isTty));
  const lines: FleetTenantLine[] = [];
  const base = (e: FleetEntry): Pick<FleetTenantLine, 'type' | 'name' | 'tenant' | 'shard'> => ({
    type: 'tenant',
    name: e.name,
    tenant: e.tenant,
    ...(shard ? { shard } : {}),
  });
  const finish = (e: FleetEntry, exitCode: number, result: Record<string, unknown>): TenantOutcome => {
    const line: FleetTenantLine = { ...base(e), exitCode, result };
    return { outcome: (result.outcome as FleetOutcome) ?? 'failed', exitCode, line };
  };
  try {
    if (command !== 'verify') await warmUp(entries, operatorOf, signal);
    const results = await runFleet<FleetEntry, TenantOutcome>({
      entries,
      parallel: settings.parallel,
      failFast: settings.failFast,
      stop: signal,
      async run(e) {
        let json: Record<string, unknown> | undefined;
        const host = {
          signal,
          which,
          emit: (j: Record<string, unknown>) => (json = j),
          say: (l: string) => progress.line(e.name, l),
          ...(command === 'verify' ? {} : { operator: operatorOf(e) }),
        };
        if (command === 'verify') {
          const { verifyCommand } = await import('./verify-command.js');
          const exitCode = await verifyCommand(verifyFlagsOf(e), host, e.options);
          return finish(
            e,
            exitCode,
            json ?? { command, outcome: 'failed', error: { code: 'failed', message: 'the proof printed no result' } },
          );
        }
        const c = await tenantCommandFor(command, e, flags);
        const exitCode = await (
          await import('./tenant-command.js')
        ).runTenantCommand({
          ...c,
          interactive: false,
          progress: (l) => progress.line(e.name, l),
          host,
        });
        return finish(
          e,
          exitCode,
          json ?? { command, outcome: 'failed', error: { code: 'failed', message: 'the run printed no result' } },
        );
      },
      failed(e, err) {
        if (signal.aborted)
          return finish(e, signalExitCode(which() ?? 'SIGINT'), {
            command,
            outcome: 'interrupted',
            changed: false,
            error: { code: 'interrupted', message: `interrupted by ${which() ?? 'SIGINT'}` },
          });
        const ce = toCliError(err);
        return finish(e, ce.exitCode, {
          command,
          outcome: ce.exitCode === ExitCode.badInput ? 'bad-input' : 'failed',
          changed: false,
          ...ce.toJSON(),
        });
      },
      notStarted(e, why) {
        const message =
          why === 'fail-fast'
            ? 'not started: --fail-fast after a tenant failed'
            : `not started: stopped by ${which() ?? 'a signal'}`;
        const exitCode = why === 'fail-fast' ? ExitCode.failed : signalExitCode(which() ?? 'SIGINT');
        return finish(e, exitCode, {
          command,
          outcome: 'not-started',
          changed: false,
          error: { code: 'not-started', message },
        });
      },
      onStart: (e) => progress.start(e.name),
      onEnd(e, r, ms) {
        const error = (r.line.result.error as { message?: string } | undefined)?.message;
        progress.end(e.name, r.outcome, ms, r.outcome === 'ok' ? undefined : error);
        lines.push(r.line);
        if (settings.output === 'jsonl') writeLine(r.line);
      },
    });
    const ended = new Set(lines);
    for (const r of results) if (!ended.has(r.line) && settings.output === 'jsonl') writeLine(r.line);
    const exitCode = fleetExitCode(
      results.map((r) => r.outcome),
      { signal: which(), detailedExitcode: Boolean(flags.detailedExitcode) },
    );
    progress.close();
    const summary = summaryLine(
      command,
      results.map((r) => r.outcome),
      exitCode,
      { startedAt, shard },
    );
    const { type: _t, ...s } = summary;
    const all = { command, tenants: results.map(({ line: { type: _lt, ...rest } }) => rest), summary: s };
    if (settings.report) await writeReport(settings.report, all);
    if (settings.output === 'jsonl') writeLine(summary);
    else if (settings.output === 'json') writeLine(all);
    else
      textResults(
        results.map((r) => r.line),
        summary,
      );
    return exitCode;
  } finally {
    progress.close();
    dispose();
  }
}

/** --report: the fleet report of this run, as HTML (or Markdown for a `.md` name); where it went, on stderr. */
async function writeReport(file: string, all: unknown): Promise<void> {
  const { writeFleetReport } = await import('../report/index.js');
  const markdown = /\.(md|markdown)$/i.test(file);
  const written = writeFleetReport(all, markdown ? { markdown: file } : { html: file });
  process.stderr.write(`Fleet report written to ${written.html ?? written.markdown}\n`);
}

/**
 * What `verify` proves for an entry: its app (appId, or the client id its secretOut file holds) with the credential
 * of its secretOut file (or its certificateFile).
 */
function verifyFlagsOf(e: FleetEntry): Record<string, unknown> {
  const o = e.options;
  const file = o.secretOut ?? o.certificateFile;
  let clientId = o.appId;
  if (!clientId && o.secretOut)
    try {
      const sink = JSON.parse(readFileSync(o.secretOut, 'utf8')) as { clientId?: unknown };
      if (typeof sink.clientId === 'string') clientId = sink.clientId;
    } catch {
      // verify names the missing or unreadable file itself
    }
  if (!clientId)
    throw new ConfigError(
      'appId',
      o.secretOut
        ? `is needed: ${o.secretOut} names no app (run apply --fleet first, which writes it), or set appId in the entry`
        : 'is needed, with secretOut or certificateFile: the app and the credential to prove',
    );
  const kind = o.credential === 'certificate' || (!o.secretOut && o.certificateFile) ? 'certificate' : 'secretFile';
  return { ...(clientId ? { clientId } : {}), ...(file ? { [kind]: file } : {}) };
}

/** A person signs in once, before the tenants start (they would each ask otherwise). */
async function warmUp(
  entries: FleetEntry[],
  operatorOf: (e: FleetEntry) => OperatorSignIn,
  signal: AbortSignal,
): Promise<void> {
  const first = entries[0];
  if (!first) return;
  const op = operatorOf(first);
  if (op.principal !== 'user') return;
  const profile = resolveCloud(first.options);
  await op.credential.getToken(profile.graphScope, {
    tenantId: first.options.homeTenant ?? first.options.tenant,
    abortSignal: signal,
  });
}

function summaryLine(
  command: FleetCommandName,
  outcomes: FleetOutcome[],
  exitCode: number,
  o: { startedAt: string; shard?: string; error?: FleetSummaryLine['error'] },
): FleetSummaryLine {
  return {
    type: 'summary',
    command,
    tenants: outcomes.length,
    counts: countOutcomes(outcomes),
    exitCode,
    ...(o.shard ? { shard: o.shard } : {}),
    startedAt: o.startedAt,
    finishedAt: new Date().toISOString(),
    ...(o.error ? { error: o.error } : {}),
  };
}

function writeLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function textResults(lines: FleetTenantLine[], summary: FleetSummaryLine): void {
  const out = (l: string): void => void process.stdout.write(`${l}\n`);
  for (const l of lines) {
    const r = l.result as { outcome?: string; error?: { message?: string }; changed?: boolean };
    out(
      `${r.outcome === 'ok' ? '✓' : r.outcome === 'changes-pending' ? '~' : '✗'} ${l.name} (${l.tenant}): ${r.outcome}${r.changed ? ', changed' : ''}${r.error?.message ? ` — ${r.error.message}` : ''}`,
    );
  }
  const counts = Object.entries(summary.counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  out(
    `${summary.tenants} tenant(s)${summary.shard ? ` in shard ${summary.shard}` : ''}: ${counts || 'none'}; exit ${summary.exitCode}.`,
  );
}

/** `sendasapp fleet matrix --fleet FILE --shards N [--format github|azure-devops]`: the shard list for a CI matrix. */
export async function fleetMatrixCommand(flags: Record<string, unknown>): Promise<number> {
  const format = (flags.format ?? 'github') as MatrixFormat;
  if (!MATRIX_FORMATS.includes(format))
    throw new CliError(`--format: must be one of ${MATRIX_FORMATS.join(', ')}`, ExitCode.badInput, {
      field: '--format',
    });
  const shards = Number(flags.shards);
  if (!/^\d{1,4}$/.test(String(flags.shards)) || shards < 1)
    throw new CliError('--shards: must be a whole number of at least 1', ExitCode.badInput, { field: '--shards' });
  const file = (flags.fleet ?? process.env.SENDASAPP_FLEET) as string | undefined;
  if (!file) throw new CliError('--fleet: is required: the fleet file', ExitCode.badInput, { field: '--fleet' });
  try {
    // Validated as the fleet run will be (a shard's job should not be the first to find a bad entry).
    const fleet = readFleet(file, { flags: {}, env: {}, needMailboxes: true });
    writeLine(
      matrixFor(
        fleet.entries.map((e) => e.name),
        shards,
        format,
      ),
    );
  } catch (err) {
    if (isConfigError(err)) throw fromConfigError(err);
    throw err;
  }
  return ExitCode.ok;
}

/** `sendasapp fleet schema`: the fleet file's JSON Schema. */
export function fleetSchemaCommand(): number {
  process.stdout.write(JSON.stringify(fleetJsonSchema(), null, 2) + '\n');
  return ExitCode.ok;
}
