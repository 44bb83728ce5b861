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
import { configFileSchema, resolveOptions } from '../config/index.js';
import { CliError, ExitCode, fromConfigError, isConfigError } from './exit-codes.js';
import { emitHandoff, handoffJson, renderFor } from './handoff-command.js';
import { say } from './output.js';
import { runTenantCommand } from './tenant-command.js';
import { askYesNo, isPromptExit } from './wizard/ask.js';
import { askSetup, type SetupAnswers } from './wizard/questions.js';
import type { CommandFlags } from './provision-commands.js';

/** Exit code of a setup ended by Ctrl-C (128 + SIGINT, as shells report it). */
export const INTERRUPTED = 130;

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
    answers = await askSetup(flags, { lookupTenant: (t) => lookupTenant(flags, t) });
  } catch (err) {
    if (isPromptExit(err)) {
      say('\nCancelled: nothing was changed.');
      return INTERRUPTED;
    }
    if (isConfigError(err)) throw fromConfigError(err);
    throw err;
  }
  return run(answers);
}

/** The tenant is looked up (no sign-in) right after it is answered: a typo is asked again, not found at the end. */
async function lookupTenant(flags: CommandFlags, tenant: string): Promise<true | string> {
  try {
    const { resolveCloud, createDispatcher } = await import('../auth/index.js');
    const { resolveTenantId } = await import('../provision/index.js');
    const options = resolveOptions({ flags, file: flags.file });
    const profile = resolveCloud(options);
    const dispatcher = createDispatcher(profile);
    try {
      await resolveTenantId(profile, dispatcher, tenant, AbortSignal.timeout(30_000));
      return true;
    } finally {
      await dispatcher.close().catch(() => undefined);
    }
  } catch (err) {
    return (err as Error).message.replace(/\. Fix: /, ': ');
  }
}

async function run({ options, config, configPath }: SetupAnswers): Promise<number> {
  // The answers are kept before anything can fail: a rerun needs no questions.
  writeConfig(configPath, config);
  say(`Saved the answers to ${configPath} (no secret in it).`);
  say();
  say(`Signing in and reading ${options.tenant}…`);
  const code = await runTenantCommand({
    name: 'setup',
    options,
    interactive: true,
    progress: (line) => void withConsentQr(line),
    summaryTo: options.target && !options.handoffOut ? 'stderr' : 'stdout',
    confirm: (message, signal) => askYesNo(message, true, signal),
    isPromptExit,
    async render(run, r) {
      if (!options.target) return {};
      say();
      const out = renderFor(run, r);
      emitHandoff(out, options, false);
      return { handoff: handoffJson(out) };
    },
  });
  say();
  say(`Rerun without questions:  sendasapp apply -f ${quoteArg(configPath)} --yes`);
  if (options.target) say(`Hand-off again:           sendasapp handoff -f ${quoteArg(configPath)}`);
  return code;
}

function writeConfig(file: string, config: Record<string, unknown>): void {
  configFileSchema.parse(config);
  const text = /\.json$/i.test(file)
    ? JSON.stringify(config, null, 2) + '\n'
    : `# Written by \`sendasapp setup\`. No secret in here: the secret lives in secretOut.\n# Rerun: sendasapp apply -f ${file} --yes\n${stringify(config)}`;
  writeFileSync(file, text);
}

export { CliError, ExitCode };
