/**
 * `plan`, `apply` and `status` for one tenant.
 */
import { ConfigError, requireTarget, resolveOptions, type ProvisionOptions } from '../config/index.js';
import {
  explainError,
  prepareContext,
  proveDelivery,
  runProvision,
  type ProvisionReport,
  type TenantContext,
  type VerificationReport,
} from '../provision/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { printJson, proofLines, stderrReporter, summary } from './output.js';

export interface CommandFlags extends Record<string, unknown> {
  file?: string;
  yes?: boolean;
  detailedExitcode?: boolean;
}

export function loadOptions(flags: CommandFlags, needMailboxes = true): ProvisionOptions & { tenant: string } {
  try {
    const o = resolveOptions({ flags, file: flags.file });
    requireTarget(o, needMailboxes);
    return o;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.badInput);
    throw err;
  }
}

/** Ctrl-C aborts the run; what was changed so far is reported and a rerun converges. */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted (Ctrl-C)'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function withContext<T>(
  options: ProvisionOptions & { tenant: string },
  mode: 'plan' | 'apply' | 'status',
  fn: (ctx: TenantContext) => Promise<T>,
): Promise<T> {
  const { signal, dispose } = interruptible();
  const reporter = stderrReporter(mode);
  let ctx: TenantContext | undefined;
  try {
    ctx = await prepareContext(options, {
      isTty: Boolean(process.stdin.isTTY && process.stderr.isTTY),
      progress: reporter.progress,
      signal,
    });
    return await fn(ctx);
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.badInput);
    throw new CliError(explainError(err), ExitCode.failed);
  } finally {
    dispose();
    await ctx?.exchange.close().catch(() => undefined);
    await ctx?.dispatcher.close().catch(() => undefined);
  }
}

function jsonReport(
  report: ProvisionReport,
  ctx: TenantContext,
  verification?: VerificationReport,
): Record<string, unknown> {
  const credential = report.credential
    ? { ...report.credential, ...(ctx.options.showSecret && ctx.newSecret ? { secret: ctx.newSecret.value } : {}) }
    : undefined;
  return {
    changed: report.changed,
    tenant: report.tenant.id,
    homeTenant: report.homeTenant.id,
    application: report.application,
    servicePrincipal: report.servicePrincipal,
    mailboxes: report.mailboxes,
    resources: report.resources,
    credential,
    smtpAuth: report.smtpAuth,
    verification: verification ?? { status: 'skipped', reply: 'not run' },
    notes: report.notes,
  };
}

export async function planCommand(flags: CommandFlags): Promise<number> {
  const options = loadOptions(flags);
  return withContext(options, 'plan', async (ctx) => {
    const reporter = stderrReporter('plan');
    reporter.progress(`Plan for ${options.tenant} (${ctx.mailboxTenantId}):`);
    const { report } = await runProvision(ctx, { mode: 'plan', onEvent: reporter.onEvent });
    const pending = report.resources.filter((r) => r.status === 'pending').length;
    reporter.progress(
      pending === 0
        ? 'Nothing to change.'
        : `${pending} resource(s) to change. Run \`sendasapp apply\` with the same options.`,
    );
    for (const l of summary(report)) reporter.progress(l);
    if (options.output === 'json') printJson({ ...jsonReport(report, ctx), pending });
    if (report.failed) return ExitCode.failed;
    return flags.detailedExitcode && pending > 0 ? ExitCode.changesPending : ExitCode.ok;
  });
}

async function confirm(message: string): Promise<boolean> {
  const { confirm: ask } = await import('@inquirer/prompts');
  return ask({ message, default: false }, { output: process.stderr });
}

export async function applyCommand(flags: CommandFlags): Promise<number> {
  const options = loadOptions(flags);
  return withContext(options, 'apply', async (ctx) => {
    const reporter = stderrReporter('apply');
    const tty = Boolean(process.stdin.isTTY && process.stderr.isTTY);
    if (tty && !flags.yes) {
      reporter.progress(`Plan for ${options.tenant}:`);
      const planReporter = stderrReporter('plan');
      const { report } = await runProvision(ctx, { mode: 'plan', onEvent: planReporter.onEvent });
      const pending = report.resources.filter((r) => r.status === 'pending').length;
      if (pending > 0 && !(await confirm(`Apply ${pending} change(s) to ${options.tenant}?`))) {
        reporter.progress('Nothing changed.');
        return ExitCode.ok;
      }
    }
    reporter.progress(`Applying to ${options.tenant} (${ctx.mailboxTenantId}):`);
    let report: ProvisionReport;
    try {
      ({ report } = await runProvision(ctx, { mode: 'apply', onEvent: reporter.onEvent }));
    } catch (err) {
      if (ctx.signal.aborted)
        throw new CliError(
          'interrupted: resources marked + or ~ above were changed; rerun apply to converge',
          ExitCode.failed,
        );
      throw err;
    }
    const interrupted = (): CliError => {
      const changed = report.resources.filter((r) => r.status === 'created' || r.status === 'updated');
      if (options.output === 'json') printJson({ ...jsonReport(report, ctx), interrupted: true });
      return new CliError(
        `interrupted (Ctrl-C): ${changed.length > 0 ? `changed before the stop: ${changed.map((r) => r.key).join(', ')}` : 'nothing was changed'}; whatever was in flight may or may not have completed — rerun apply to converge`,
        ExitCode.failed,
      );
    };
    if (ctx.signal.aborted) throw interrupted();
    let verification: VerificationReport | undefined;
    if (!report.failed && !report.waiting && options.verify !== 'none') {
      reporter.progress(`Proving with an XOAUTH2 login to ${ctx.profile.smtp.host}:${ctx.profile.smtp.port}…`);
      try {
        verification = await proveDelivery(ctx, report);
      } catch (err) {
        if (ctx.signal.aborted) throw interrupted();
        throw err;
      }
      for (const l of proofLines(verification)) reporter.progress(l);
    }
    for (const l of summary(report)) reporter.progress(l);
    let handoff: Awaited<ReturnType<typeof renderApplyHandoff>> | undefined;
    if (options.target && !report.failed) handoff = await renderApplyHandoff(ctx, report);
    if (options.output === 'json')
      printJson({
        ...jsonReport(report, ctx, verification),
        ...(handoff
          ? {
              handoff: {
                target: handoff.target,
                file: handoff.file ?? null,
                ...(handoff.file ? {} : { content: handoff.content }),
              },
            }
          : {}),
      });
    if (report.failed) return ExitCode.failed;
    if (report.waiting) return ExitCode.proofNotPassed;
    if (verification?.status === 'failed') return ExitCode.proofNotPassed;
    return ExitCode.ok;
  });
}

/** `apply --target`: the hand-off of the sending system, from this run's report (no second read). */
async function renderApplyHandoff(ctx: TenantContext, report: ProvisionReport) {
  const { renderFor, emitHandoff } = await import('./handoff-command.js');
  const out = renderFor(ctx, report);
  emitHandoff(out, ctx.options, ctx.options.output === 'json');
  return out;
}

export async function statusCommand(flags: CommandFlags): Promise<number> {
  const options = loadOptions(flags);
  return withContext(options, 'status', async (ctx) => {
    const reporter = stderrReporter('status');
    reporter.progress(`Status of ${options.tenant} (${ctx.mailboxTenantId}):`);
    const { report, state } = await runProvision(ctx, { mode: 'plan', onEvent: reporter.onEvent });
    const app = state.get<{
      app?: {
        passwordCredentials: Array<{ keyId: string; displayName: string | null; endDateTime: string | null }>;
        keyCredentials: Array<{ keyId: string; displayName: string | null; endDateTime: string | null }>;
      };
    }>('entra.application');
    const now = Date.now();
    const credentials = [
      ...(app?.app?.passwordCredentials ?? []).map((c) => ({ ...c, type: 'secret' })),
      ...(app?.app?.keyCredentials ?? []).map((c) => ({ ...c, type: 'certificate' })),
    ].map((c) => ({
      type: c.type,
      keyId: c.keyId,
      displayName: c.displayName,
      expires: c.endDateTime,
      daysLeft: c.endDateTime ? Math.floor((Date.parse(c.endDateTime) - now) / 86_400_000) : null,
    }));
    for (const c of credentials)
      reporter.progress(
        `  ${c.type} ${c.keyId} "${c.displayName ?? ''}": ${c.daysLeft === null ? 'no end date' : c.daysLeft < 0 ? 'EXPIRED' : `${c.daysLeft} days left`}`,
      );
    const drift = report.resources.filter((r) => r.status === 'pending');
    reporter.progress(
      drift.length === 0
        ? 'Everything is as configured.'
        : `${drift.length} resource(s) differ from the configuration (drift).`,
    );
    for (const l of summary(report)) reporter.progress(l);
    if (options.output === 'json')
      printJson({ ...jsonReport(report, ctx), drift: drift.map((d) => d.key), credentials });
    if (report.failed) return ExitCode.failed;
    return flags.detailedExitcode && drift.length > 0 ? ExitCode.changesPending : ExitCode.ok;
  });
}
