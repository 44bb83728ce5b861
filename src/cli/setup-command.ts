/**
 * `sendasapp setup`: the prompted setup for people. Asks (wizard/questions.ts), signs the operator in, shows the
 * plan as `plan` would, asks for confirmation, writes the config file, applies and verifies with live progress, and
 * ends with the hand-off. Prompts and progress go to stderr; the hand-off goes to stdout (or --out).
 *
 * Ctrl-C: at a prompt or before anything was applied, it ends with exit code 130 and nothing changed in the tenant;
 * during apply it lists what was changed so far, says that a rerun converges, and ends with 130 as well.
 */
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { ConfigError, configFileSchema } from '../config/index.js';
import {
  explainError,
  prepareContext,
  proveDelivery,
  runProvision,
  type ProvisionReport,
  type RunEvent,
  type TenantContext,
  type VerificationReport,
} from '../provision/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { emitHandoff, renderFor } from './handoff-command.js';
import { proofLines, stderrReporter, summary } from './output.js';
import { askYesNo, isPromptExit } from './wizard/ask.js';
import { askSetup, type SetupAnswers } from './wizard/questions.js';
import type { CommandFlags } from './provision-commands.js';

/** Exit code of a setup ended by Ctrl-C (128 + SIGINT, as shells report it). */
export const INTERRUPTED = 130;

const say = (line = ''): void => {
  process.stderr.write(`${line}\n`);
};

/** Prints a terminal QR code under an admin-consent URL, so the customer's admin can open it on a phone. */
async function withConsentQr(line: string): Promise<void> {
  say(line);
  const url = /(https:\/\/\S+\/adminconsent\?\S+)/.exec(line)?.[1];
  if (!url || !process.stderr.isTTY) return;
  try {
    const { renderUnicodeCompact } = await import('uqr');
    say(renderUnicodeCompact(url, { border: 1 }));
  } catch {
    // No QR code then; the URL above is enough.
  }
}

function quoteArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function setupCommand(flags: CommandFlags): Promise<number> {
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new CliError(
      'setup asks questions and needs a terminal. In a script or pipeline use `sendasapp apply` with flags or a config file: `sendasapp apply -f sendasapp.yaml --yes` (see `sendasapp apply --help`)',
      ExitCode.badInput,
    );
  say('sendasapp setup: a few questions, then the plan, then (after you confirm) the changes and the proof.');
  say('Ctrl-C at any question ends it with nothing changed.');
  say();

  let answers: SetupAnswers;
  try {
    answers = await askSetup(flags);
  } catch (err) {
    if (isPromptExit(err)) {
      say('\nCancelled: nothing was changed.');
      return INTERRUPTED;
    }
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.badInput);
    throw err;
  }
  return run(answers);
}

async function run({ options, config, configPath }: SetupAnswers): Promise<number> {
  const controller = new AbortController();
  const onSignal = (): void => {
    // A second Ctrl-C does not wait for the requests in flight.
    if (controller.signal.aborted) process.exit(INTERRUPTED);
    controller.abort(new Error('interrupted (Ctrl-C)'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let ctx: TenantContext | undefined;
  let applying = false;
  const changed: string[] = [];
  const inFlight = new Set<string>();
  try {
    say();
    say(`Signing in and reading ${options.tenant}…`);
    ctx = await prepareContext(options, {
      isTty: true,
      progress: (line) => void withConsentQr(line),
      signal: controller.signal,
    });
    say(`Plan for ${options.tenant} (${ctx.mailboxTenantId}):`);
    const planReporter = stderrReporter('plan');
    const { report: plan } = await runProvision(ctx, { mode: 'plan', onEvent: planReporter.onEvent });
    if (plan.failed) {
      for (const l of summary(plan)) say(l);
      say('Reading the tenant failed (see above): nothing was changed.');
      return ExitCode.failed;
    }
    const pending = plan.resources.filter((r) => r.status === 'pending').length;
    if (pending > 0) {
      let go: boolean;
      try {
        go = await askYesNo(`Apply ${pending} change(s) to ${options.tenant}?`, true);
      } catch (err) {
        if (isPromptExit(err)) {
          say('\nCancelled: nothing was changed.');
          return INTERRUPTED;
        }
        throw err;
      }
      if (!go) {
        say('Nothing changed. Run `sendasapp setup` again when you are ready.');
        return ExitCode.ok;
      }
    } else say('Nothing to change: the tenant is already set up this way.');

    writeConfig(configPath, config);
    say(`Saved the answers to ${configPath} (no secret in it).`);

    say(`Applying to ${options.tenant}:`);
    applying = true;
    const reporter = stderrReporter('apply');
    const onEvent = (e: RunEvent): void => {
      if (e.type === 'begin') inFlight.add(e.title);
      if (e.type === 'end') {
        inFlight.delete(e.report.title);
        if (e.report.status === 'created' || e.report.status === 'updated') changed.push(e.report.title);
      }
      reporter.onEvent(e);
    };
    const { report } = await runProvision(ctx, { mode: 'apply', onEvent });
    if (controller.signal.aborted) return interrupted(changed, inFlight, configPath);
    applying = false;
    let verification: VerificationReport | undefined;
    if (!report.failed && !report.waiting && options.verify !== 'none') {
      say(`Proving with an XOAUTH2 login to ${ctx.profile.smtp.host}:${ctx.profile.smtp.port}…`);
      verification = await proveDelivery(ctx, report);
      if (controller.signal.aborted) return interrupted(changed, inFlight, configPath);
      for (const l of proofLines(verification)) say(l);
    }
    for (const l of summary(report)) say(l);
    if (options.target && !report.failed) {
      say();
      emitHandoff(renderFor(ctx, report), options, false);
    }
    say();
    say(`Rerun without questions:  sendasapp apply -f ${quoteArg(configPath)} --yes`);
    if (options.target) say(`Hand-off again:           sendasapp handoff -f ${quoteArg(configPath)}`);
    return exitCode(report, verification);
  } catch (err) {
    if (controller.signal.aborted) {
      if (!applying) {
        say('\nCancelled: nothing was changed.');
        return INTERRUPTED;
      }
      return interrupted(changed, inFlight, configPath);
    }
    if (err instanceof CliError) throw err;
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.badInput);
    throw new CliError(explainError(err), ExitCode.failed);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await ctx?.exchange.close().catch(() => undefined);
    await ctx?.dispatcher.close().catch(() => undefined);
  }
}

function interrupted(changed: string[], inFlight: Set<string>, configPath: string): number {
  say('');
  say('Interrupted (Ctrl-C) while applying.');
  if (changed.length > 0) {
    say('Changed before the interrupt:');
    for (const c of changed) say(`  ~ ${c}`);
  } else say('Nothing was completed before the interrupt.');
  if (inFlight.size > 0) say(`Possibly changed (in progress at the interrupt): ${[...inFlight].join('; ')}.`);
  say(`Nothing else was changed. A rerun converges: sendasapp apply -f ${quoteArg(configPath)} --yes`);
  return INTERRUPTED;
}

function exitCode(report: ProvisionReport, verification?: VerificationReport): number {
  if (report.failed) return ExitCode.failed;
  if (report.waiting) return ExitCode.proofNotPassed;
  if (verification?.status === 'failed') return ExitCode.proofNotPassed;
  return ExitCode.ok;
}

function writeConfig(file: string, config: Record<string, unknown>): void {
  configFileSchema.parse(config);
  const text = /\.json$/i.test(file)
    ? JSON.stringify(config, null, 2) + '\n'
    : `# Written by \`sendasapp setup\`. No secret in here: the secret lives in secretOut.\n# Rerun: sendasapp apply -f ${file} --yes\n${stringify(config)}`;
  writeFileSync(file, text);
}
