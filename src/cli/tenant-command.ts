/**
 * The one renderer of a TenantRun, shared by plan, apply, status, handoff, setup and demo: one Ctrl-C/SIGTERM
 * handler, one exit-code mapping, one JSON result. Commands differ only in what they ask of the run and print.
 */
import { formatDuration } from '../poll/index.js';
import type { OperatorSignIn, RequestObserver } from '../auth/index.js';
import { isConfigError } from './exit-codes.js';
import { openRequestLog } from './request-log.js';
import { CliError, ExitCode } from './exit-codes.js';
import {
  nodeLines,
  planLines,
  printJson as printResult,
  progressReporter,
  proofLines,
  result,
  say as sayLine,
  summaryLines,
} from './output.js';
import type {
  NodeReport,
  Outcome,
  RunEvent,
  RunOptions,
  RunResult,
  TenantRun as TenantRunType,
  VerificationReport,
} from '../provision/index.js';

export type CommandName = 'plan' | 'apply' | 'status' | 'handoff' | 'setup' | 'rotate' | 'migrate';

export interface TenantCommand {
  name: CommandName;
  options: RunOptions;
  yes?: boolean;
  detailedExitcode?: boolean;
  /** Prompts may be shown (stdin and stderr are a terminal). */
  interactive: boolean;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
  /** Asks before the writes; false = nothing changes. Throwing a prompt exit means Ctrl-C. */
  confirm?: (message: string, signal: AbortSignal) => Promise<boolean>;
  /** Called once the person said yes, before the first write (setup saves its answers). */
  beforeApply?: () => void;
  /** Whether an error thrown by `confirm` is a Ctrl-C at the prompt. */
  isPromptExit?: (err: unknown) => boolean;
  /** Adds command-specific fields to the JSON result and prints the command's own text (status, handoff). */
  render?: (run: TenantRunType, r: RunResult) => Promise<Record<string, unknown>>;
  /** Where the final summary goes in text mode: stdout (the result), or stderr when the result is a hand-off. */
  summaryTo?: 'stdout' | 'stderr';
  /** The command's own reading of the outcome (status: an expiring credential is a finding). */
  adjustOutcome?: (r: RunResult, extra: Record<string, unknown>) => Outcome;
  /** Test seam. */
  afterApply?: (key: string) => Promise<void> | void;
  /** Set when a fleet runs this tenant beside others (fleet-command.ts). */
  host?: TenantHost;
}

/**
 * What a fleet gives each of its tenants' runs: the fleet's one stop signal in place of this process's signal
 * handlers, where the JSON result and the closing lines go, and the operator sign-in all tenants share.
 */
export interface TenantHost {
  /** Aborted with an Interrupted by the fleet's one Ctrl-C/SIGTERM handler. */
  signal: AbortSignal;
  which: () => 'SIGINT' | 'SIGTERM' | undefined;
  emit: (json: Record<string, unknown>) => void;
  say: (line: string) => void;
  operator?: OperatorSignIn;
}

/** A hosted run's stop: the host's signal, or this run's own deadline. */
export function hostedInterrupt(
  host: TenantHost,
  deadlineMs: number,
): { signal: AbortSignal; which: () => 'SIGINT' | 'SIGTERM' | undefined; dispose: () => void } {
  const controller = new AbortController();
  const onStop = (): void => controller.abort(host.signal.reason);
  if (host.signal.aborted) onStop();
  else host.signal.addEventListener('abort', onStop, { once: true });
  const timer = setTimeout(() => controller.abort(new RunDeadlineError(deadlineMs)), deadlineMs);
  timer.unref();
  return {
    signal: controller.signal,
    which: host.which,
    dispose: () => {
      clearTimeout(timer);
      host.signal.removeEventListener('abort', onStop);
    },
  };
}

/** Ctrl-C or SIGTERM. */
export class Interrupted extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

/** 128 + the signal's number, as shells report a process a signal ended. */
export function signalExitCode(signal: 'SIGINT' | 'SIGTERM'): number {
  return signal === 'SIGINT' ? ExitCode.interrupted : 143;
}

/** The one mapping from a run's outcome to the exit code (README, "Exit codes"). */
export function exitCodeOf(outcome: Outcome, o: { detailedExitcode?: boolean; signal?: 'SIGINT' | 'SIGTERM' }): number {
  switch (outcome) {
    case 'ok':
      return ExitCode.ok;
    case 'changes-pending':
      return o.detailedExitcode ? ExitCode.changesPending : ExitCode.ok;
    case 'bad-input':
      return ExitCode.badInput;
    case 'failed':
      return ExitCode.failed;
    case 'waiting':
    case 'proof-not-passed':
      return ExitCode.proofNotPassed;
    case 'interrupted':
      return signalExitCode(o.signal ?? 'SIGINT');
  }
}

/** The run took longer than any wait it was allowed (belt and braces: every request and wait has its own bound). */
export class RunDeadlineError extends Error {
  constructor(readonly ms: number) {
    super(
      `the run did not finish within ${formatDuration(ms)} (twice --wait plus 10 min), so it was stopped; a rerun converges where it stopped. If waits are that long on purpose, give a longer --wait`,
    );
    this.name = 'RunDeadlineError';
  }
}

/** The whole run's deadline: twice --wait (consent and the proof each wait up to it) plus 10 minutes of work. */
export function runDeadlineMs(waitMs: number): number {
  return 2 * waitMs + 10 * 60_000;
}

/** One Ctrl-C/SIGTERM handler per command: the first aborts the run, a second ends the process at once. */
export function interruptible(deadlineMs?: number): {
  signal: AbortSignal;
  which: () => 'SIGINT' | 'SIGTERM' | undefined;
  dispose: () => void;
} {
  const controller = new AbortController();
  let which: 'SIGINT' | 'SIGTERM' | undefined;
  const timer =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => controller.abort(new RunDeadlineError(deadlineMs)), deadlineMs);
  timer?.unref();
  const handler = (sig: 'SIGINT' | 'SIGTERM') => (): void => {
    if (controller.signal.aborted) process.exit(signalExitCode(sig));
    which = sig;
    controller.abort(new Interrupted(sig));
  };
  const onInt = handler('SIGINT');
  const onTerm = handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    which: () => which,
    dispose: () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** The JSON result of a run (one object on stdout with --output json). Never holds a secret unless asked. */
export function jsonResult(
  command: string,
  r: RunResult,
  extra: Record<string, unknown> = {},
  secret?: string,
): Record<string, unknown> {
  return {
    command,
    outcome: r.outcome,
    changed: r.changed,
    tenant: r.tenant.id,
    homeTenant: r.homeTenant.id,
    application: r.application,
    servicePrincipal: r.servicePrincipal,
    mailboxes: r.mailboxes,
    ...nodesJson(r),
    credential: r.credential ? { ...r.credential, ...(secret ? { secret } : {}) } : undefined,
    smtpAuth: r.smtpAuth,
    verification: r.verification ?? { status: 'skipped', reply: 'not run' },
    ...(r.exchange ? { exchange: r.exchange } : {}),
    ...(r.sendAs ? { sendAs: r.sendAs } : {}),
    ...(r.mailboxAccess ? { mailboxAccess: r.mailboxAccess } : {}),
    notes: r.notes,
    pending: r.pending,
    ...failureJson(r.failure),
    ...extra,
  };
}

/** The preflight's and the resources' reports as the JSON result shows them (apply's and destroy's alike). */
export function nodesJson(r: { preflight: NodeReport[]; resources: NodeReport[] }): Record<string, unknown> {
  return {
    preflight: r.preflight.map(({ key, title, status, message }) => ({
      key,
      title,
      status,
      ...(message ? { message } : {}),
    })),
    resources: r.resources.map(({ key, title, action, status, changes, message }) => ({
      key,
      title,
      action,
      status,
      changes,
      ...(message ? { message } : {}),
    })),
  };
}

/** The JSON result's `error` for a run the preflight stopped (none without a failure). */
export function failureJson(
  failure: { kind: 'input' | 'tenant'; field?: string; message: string } | undefined,
): Record<string, unknown> {
  if (!failure) return {};
  return {
    error: {
      code: failure.kind === 'input' ? 'bad-input' : 'failed',
      message: failure.message,
      ...(failure.field ? { field: failure.field } : {}),
    },
  };
}

/** Opens the run, turning what can go wrong before it into CliErrors (bad input: exit 2; else exit 1). */
async function open(
  c: TenantCommand,
  signal: AbortSignal,
  onEvent: (e: RunEvent) => void,
  onRequest: RequestObserver | undefined,
): Promise<TenantRunType> {
  const { TenantRun, explainError } = await import('../provision/index.js');
  try {
    return await TenantRun.open(c.options, {
      isTty: c.interactive,
      progress: c.progress ?? c.host?.say ?? sayLine,
      signal,
      onEvent,
      onRequest,
      afterApply: c.afterApply,
      ...(c.host?.operator ? { operator: c.host.operator } : {}),
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (isConfigError(err)) throw err;
    throw new CliError(explainError(err), ExitCode.failed);
  }
}

export async function runTenantCommand(c: TenantCommand): Promise<number> {
  const { signal, which, dispose } = c.host
    ? hostedInterrupt(c.host, runDeadlineMs(c.options.wait.ms))
    : interruptible(runDeadlineMs(c.options.wait.ms));
  const printJson = c.host?.emit ?? printResult;
  const say = c.host?.say ?? sayLine;
  const json = c.options.output === 'json';
  const progress = c.progress ?? say;
  const applying = c.name === 'apply' || c.name === 'setup' || c.name === 'rotate' || c.name === 'migrate';
  let phase: 'plan' | 'apply' = 'plan';
  const live = progressReporter('apply', progress);
  const onEvent = (e: RunEvent): void => {
    if (phase === 'apply') live(e);
  };
  let run: TenantRunType | undefined;
  const requests = openRequestLog(c.options);
  try {
    run = await open(c, signal, onEvent, requests.onRequest);
    const planned = await run.plan();
    if (signal.aborted) throw signal.reason;
    const finish = async (given: RunResult, extra: Record<string, unknown> = {}, secret?: string): Promise<number> => {
      const r = { ...given, outcome: c.adjustOutcome?.(given, extra) ?? given.outcome };
      if (json) printJson(jsonResult(c.name, r, extra, secret));
      return exitCodeOf(r.outcome, { detailedExitcode: c.detailedExitcode, signal: which() });
    };
    if (!applying) {
      const extra = c.render ? await c.render(run, planned) : {};
      if (!c.render && !json) for (const l of [...planLines(planned), ...summaryLines(planned)]) result(l);
      if (planned.failure && !json) say(`error: ${planned.failure.message}`);
      return await finish(planned, extra);
    }
    if (planned.failure) {
      for (const n of [...planned.preflight, ...planned.resources].filter((x) => x.status === 'failed'))
        for (const l of nodeLines(n, 'plan')) progress(l);
      progress('Nothing was changed.');
      if (!json) say(`error: ${planned.failure.message}`);
      return await finish(planned);
    }
    if (c.interactive && !c.yes && planned.pending > 0) {
      progress(`Plan for ${c.options.tenant} (${planned.tenant.id}):`);
      for (const l of planLines(planned)) progress(l);
      let go: boolean;
      try {
        go = await (c.confirm ?? confirmPrompt)(`Apply ${planned.pending} change(s) to ${c.options.tenant}?`, signal);
      } catch (err) {
        if (c.isPromptExit?.(err) || signal.aborted) {
          const sig = which() ?? 'SIGINT';
          progress('\nCancelled: nothing was changed.');
          if (json) printJson(interruptedJson(c.name, sig));
          return signalExitCode(sig);
        }
        throw err;
      }
      if (!go) {
        progress('Nothing changed.');
        return await finish({ ...planned, outcome: 'ok' });
      }
    } else if (planned.pending === 0) progress(`Nothing to change in ${c.options.tenant}: it is set up this way.`);
    c.beforeApply?.();
    progress(
      `Applying to ${c.options.tenant} (${planned.tenant.id})${planned.exchange ? `; Exchange through ${planned.exchange.backend === 'pwsh' ? 'PowerShell' : 'REST'} (${planned.exchange.reason})` : ''}:`,
    );
    phase = 'apply';
    let r = await run.apply();
    if (signal.aborted) throw signal.reason;
    let verification: VerificationReport | undefined;
    if (r.outcome === 'ok' && c.options.verify !== 'none') {
      progress(`Proving with an XOAUTH2 login to ${run.ctx.profile.smtp.host}:${run.ctx.profile.smtp.port}…`);
      verification = await run.prove();
      if (signal.aborted) throw signal.reason;
      for (const l of proofLines(verification)) progress(l);
      r = run.result();
    }
    // A rotation's second half (rotation.ts): after a passed proof the old credential is retired (or scheduled) once
    // the hand-off is rendered; otherwise it is kept, the sink holds it again, and the hand-off names it.
    const proven = r.verification?.status === 'passed';
    const early = proven ? undefined : await run.finishRotation();
    if (early) r = run.result();
    const extra = c.render && r.outcome !== 'failed' && r.outcome !== 'bad-input' ? await c.render(run, r) : {};
    const rotation = early ?? (proven ? await run.finishRotation() : undefined);
    if (rotation) {
      progress(`Rotation: ${rotation.message}.`);
      extra.rotation = rotation;
      r = run.result();
    }
    if (!json) for (const l of summaryLines(r)) (c.summaryTo === 'stderr' ? say : result)(l);
    if (r.failure && !json) say(`error: ${r.failure.message}`);
    const secret = c.options.showSecret ? run.newSecret() : undefined;
    return await finish(r, extra, secret);
  } catch (err) {
    const stopped =
      signal.aborted && (signal.reason instanceof Interrupted || signal.reason instanceof RunDeadlineError);
    if (stopped) {
      const sig = signal.reason instanceof Interrupted ? signal.reason.signal : undefined;
      const state = run?.interruptedState() ?? { changed: [], inFlight: [] };
      say('');
      say(sig ? `Interrupted (${sig}).` : `Stopped: ${(signal.reason as Error).message}.`);
      const at = sig ? 'interrupt' : 'stop';
      if (state.changed.length > 0) {
        say(`Changed before the ${at}:`);
        for (const t of state.changed) say(`  ~ ${t}`);
      } else say(`Nothing was changed before the ${at}.`);
      if (state.inFlight.length > 0) say(`Possibly changed (in progress at the ${at}): ${state.inFlight.join('; ')}.`);
      if (state.changed.length + state.inFlight.length > 0)
        say('A rerun converges: run apply again with the same options.');
      if (json)
        printJson(
          run
            ? jsonResult(
                c.name,
                { ...run.result(), outcome: sig ? 'interrupted' : 'failed' },
                { interrupted: { signal: sig ?? 'deadline', ...state } },
                // A secret made before the stop is shown as asked: with no sink this is its only copy.
                c.options.showSecret ? run.newSecret() : undefined,
              )
            : interruptedJson(c.name, sig ?? 'SIGINT'),
        );
      if (!sig) return ExitCode.failed;
      return signalExitCode(sig);
    }
    throw err;
  } finally {
    dispose();
    await run?.close();
    requests.close();
  }
}

/** A yes/no question on stderr, "no" by default; ends when the run is stopped. */
export async function confirmPrompt(message: string, signal: AbortSignal): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message, default: false }, { output: process.stderr, signal });
}

/** The one JSON object of a run stopped before it had a result (at sign-in, or at the confirmation). */
function interruptedJson(command: string, sig: 'SIGINT' | 'SIGTERM'): Record<string, unknown> {
  return {
    command,
    outcome: 'interrupted',
    changed: false,
    error: { code: 'interrupted', message: `interrupted by ${sig}: nothing was changed` },
  };
}
