/**
 * `sendasapp destroy`: removes what sendasapp made for an app in a tenant (its provenance record says what), in
 * reverse dependency order, after showing the plan. A terminal asks for confirmation; a pipeline gives --yes
 * (without a terminal and without --yes, a destroy with something to remove is refused: exit 2). Idempotent: a
 * second destroy finds nothing and writes nothing (exit 0). Stopped part-way, it converges when run again.
 *
 * Exit codes: 0 done (or nothing to remove; also "no" at the prompt), 1 a removal failed or the tenant could not be
 * read, 2 bad input or no confirmation possible, 130/143 interrupted (SIGINT/SIGTERM).
 */
import type { TeardownResult, TeardownRun as TeardownRunType } from '../provision/index.js';
import { CliError, ExitCode, isConfigError } from './exit-codes.js';
import { nodeLines, printJson, progressReporter, result, say } from './output.js';
import { loadOptions, type CommandFlags } from './provision-commands.js';
import { openRequestLog } from './request-log.js';
import {
  Interrupted,
  RunDeadlineError,
  confirmPrompt,
  exitCodeOf,
  failureJson,
  interruptible,
  nodesJson,
  runDeadlineMs,
  signalExitCode,
} from './tenant-command.js';

export interface DestroyFlags extends CommandFlags {
  purge?: boolean;
  deleteSecret?: boolean;
}

export interface DestroyCommand {
  flags: DestroyFlags;
  /** stdin and stderr are a terminal (a confirmation can be asked). */
  interactive?: boolean;
  confirm?: (message: string, signal: AbortSignal) => Promise<boolean>;
  afterApply?: (key: string) => Promise<void> | void;
}

/** The JSON result of destroy (one object on stdout with --output json), shaped like apply's. */
export function destroyJson(r: TeardownResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    command: 'destroy',
    outcome: r.outcome,
    changed: r.changed,
    tenant: r.tenant.id,
    homeTenant: r.homeTenant.id,
    application: r.application,
    provenance: r.provenance,
    mailboxes: r.mailboxes,
    ...nodesJson(r),
    notes: r.notes,
    pending: r.pending,
    ...failureJson(r.failure),
    ...extra,
  };
}

/** The plan for people: every removal with its changes, then what stays. */
export function destroyPlanLines(r: TeardownResult): string[] {
  const lines: string[] = [];
  for (const p of r.preflight.filter((x) => x.status === 'failed')) lines.push(...nodeLines(p, 'plan'));
  for (const n of r.resources.filter((x) => x.status !== 'unchanged')) lines.push(...nodeLines(n, 'plan'));
  for (const n of r.notes) lines.push(`Note: ${n.text}`);
  if (r.failure) lines.push(`Nothing can be removed until this is fixed: ${r.failure.message}`);
  else lines.push(r.pending === 0 ? 'Nothing of ours to remove.' : `${r.pending} resource(s) to remove.`);
  return lines;
}

const isTty = (): boolean => Boolean(process.stdin.isTTY && process.stderr.isTTY);

export async function destroyCommand(flags: DestroyFlags): Promise<number> {
  return runDestroy({ flags, interactive: isTty() });
}

export async function runDestroy(c: DestroyCommand): Promise<number> {
  const options = loadOptions(c.flags, false);
  const json = options.output === 'json';
  const { signal, which, dispose } = interruptible(runDeadlineMs(options.wait.ms));
  const requests = openRequestLog(options);
  let phase: 'plan' | 'apply' = 'plan';
  const live = progressReporter('apply', say);
  let run: TeardownRunType | undefined;
  try {
    const { TeardownRun, explainError } = await import('../provision/index.js');
    try {
      run = await TeardownRun.open(
        options,
        {
          isTty: Boolean(c.interactive),
          progress: say,
          signal,
          onRequest: requests.onRequest,
          onEvent: (e) => phase === 'apply' && live(e),
          afterApply: c.afterApply,
        },
        { purge: Boolean(c.flags.purge), deleteSecret: Boolean(c.flags.deleteSecret) },
      );
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (isConfigError(err)) throw err;
      throw new CliError(explainError(err), ExitCode.failed);
    }
    const planned = await run.plan();
    if (signal.aborted) throw signal.reason;
    const finish = (r: TeardownResult, extra: Record<string, unknown> = {}): number => {
      if (json) printJson(destroyJson(r, extra));
      return exitCodeOf(r.outcome === 'changes-pending' ? 'ok' : r.outcome, { signal: which() });
    };
    say(`Destroy in ${options.tenant} (${planned.tenant.id}):`);
    for (const l of destroyPlanLines(planned)) say(l);
    if (planned.failure) {
      if (!json) say(`error: ${planned.failure.message}`);
      return finish(planned);
    }
    if (planned.pending === 0) {
      if (!json) result('Nothing to remove: the tenant holds nothing of this app.');
      return finish({ ...planned, outcome: 'ok' });
    }
    if (!c.flags.yes) {
      if (!c.interactive) {
        const message = `destroy would remove ${planned.pending} resource(s) from ${options.tenant} and there is no terminal to confirm it on: rerun with --yes to remove them`;
        if (json)
          printJson({
            ...destroyJson({ ...planned, outcome: 'bad-input' }),
            error: { code: 'bad-input', message, field: '--yes' },
          });
        else say(`error: ${message}`);
        return ExitCode.badInput;
      }
      const ask = c.confirm ?? confirmPrompt;
      let go: boolean;
      try {
        go = await ask(
          `Remove ${planned.pending} resource(s) from ${options.tenant}? This cannot be undone${c.flags.purge ? '' : ' (the app stays restorable in deleted items for 30 days)'}.`,
          signal,
        );
      } catch (err) {
        if (signal.aborted || (err as Error)?.name === 'ExitPromptError') {
          say('\nCancelled: nothing was removed.');
          return signalExitCode(which() ?? 'SIGINT');
        }
        throw err;
      }
      if (!go) {
        say('Nothing removed.');
        return finish({ ...planned, outcome: 'ok' });
      }
    }
    say(`Removing from ${options.tenant}:`);
    phase = 'apply';
    const r = await run.apply();
    if (signal.aborted) throw signal.reason;
    if (!json) {
      for (const n of r.resources.filter((x) => x.status !== 'unchanged'))
        for (const l of nodeLines(n, 'apply')) result(l);
      result(r.failure ? `Stopped: ${r.failure.message}` : r.changed ? 'Removed.' : 'Nothing was removed.');
    }
    return finish(r);
  } catch (err) {
    const stopped =
      signal.aborted && (signal.reason instanceof Interrupted || signal.reason instanceof RunDeadlineError);
    if (!stopped) throw err;
    const sig = signal.reason instanceof Interrupted ? signal.reason.signal : undefined;
    const state = run?.interruptedState() ?? { changed: [], inFlight: [] };
    say('');
    say(sig ? `Interrupted (${sig}).` : `Stopped: ${(signal.reason as Error).message}.`);
    if (state.changed.length > 0) for (const t of state.changed) say(`  - ${t}`);
    if (state.inFlight.length > 0) say(`Possibly removed (in progress): ${state.inFlight.join('; ')}.`);
    say('A rerun converges: run destroy again with the same options.');
    if (json)
      printJson(
        run
          ? destroyJson(
              { ...run.result(), outcome: sig ? 'interrupted' : 'failed' },
              { interrupted: { signal: sig ?? 'deadline', ...state } },
            )
          : { command: 'destroy', outcome: 'interrupted', changed: false },
      );
    return sig ? signalExitCode(sig) : ExitCode.failed;
  } finally {
    dispose();
    await run?.close();
    requests.close();
  }
}
