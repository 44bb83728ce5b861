/**
 * `sendasapp handoff --target <system>`: reads the tenant (the same resources as `plan`, no write) and renders what
 * the sending system needs, from templates/handoff/, to stdout or `--out FILE`. Also used at the end of
 * `apply --target` and `setup`.
 */
import type { ProvisionOptions } from '../config/index.js';
import {
  HandoffError,
  renderHandoff,
  TARGETS,
  writeHandoffFile,
  type HandoffFacts,
  type HandoffTarget,
} from '../handoff/index.js';
import {
  adminConsentUrl,
  consentRedirectUri,
  delegatedConsentUrl,
  type RunResult,
  type TenantRun,
} from '../provision/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { say } from './output.js';
import { loadOptions, type CommandFlags } from './provision-commands.js';
import { runTenantCommand, type TenantCommand } from './tenant-command.js';

/** The facts of a hand-off, from the result (plan or apply) of this run. */
export function handoffFacts(run: TenantRun, report: RunResult): HandoffFacts {
  const ctx = run.ctx;
  const o = ctx.options;
  const appId = report.application.appId;
  if (!appId)
    throw new CliError(
      `the app is not registered yet in ${o.homeTenant ?? o.tenant}: run \`sendasapp apply\` with the same options first`,
      ExitCode.failed,
    );
  const flow = o.flow ?? 'app';
  const vendorApp = Boolean(o.appId) && !report.application.id;
  // The admin-consent URL, when someone still has to consent: delegated SMTP (each user or an admin), or an app
  // whose service principal or SMTP.SendAsApp grant is not in the mailbox tenant yet.
  const consent =
    flow === 'delegated'
      ? delegatedConsentUrl(ctx.profile.consentHost, report.tenant.id, appId, o.redirectUris?.[0])
      : run.consentPending()
        ? adminConsentUrl(ctx.profile.consentHost, report.tenant.id, appId, consentRedirectUri(ctx))
        : undefined;
  let secretValue: string | undefined;
  if (o.includeSecret) {
    if (vendorApp) throw new CliError("--include-secret: a vendor app's secret is the vendor's", ExitCode.badInput);
    secretValue = run.newSecret();
    if (secretValue === undefined && ctx.sink) {
      const held = ctx.sink.read()?.credential;
      if (held?.type === 'secret' && (!report.credential?.keyId || held.keyId === report.credential.keyId))
        secretValue = held.secret;
    }
    if (secretValue === undefined)
      throw new CliError(
        `--include-secret: no secret of this app is held${o.secretOut ? ` in ${o.secretOut}` : ''}; give the --secret-out file apply wrote`,
        ExitCode.failed,
      );
  }
  return {
    flow,
    tenantId: report.tenant.id,
    tenantInput: o.tenant,
    homeTenantId: report.homeTenant.id,
    clientId: appId,
    appName: report.application.displayName ?? o.appName,
    vendorApp,
    credential: report.credential
      ? {
          type: report.credential.type === 'certificate' ? 'certificate' : 'secret',
          keyId: report.credential.keyId,
          expires: report.credential.expires,
        }
      : undefined,
    sinkFile: o.secretOut,
    secretValue,
    mailboxes: report.mailboxes,
    group: o.group,
    ...(report.sendAs
      ? {
          sendAs: {
            account: report.sendAs.account,
            users: report.sendAs.users,
            ...(report.sendAs.group ? { group: report.sendAs.group } : {}),
          },
        }
      : {}),
    mailboxAccess: report.mailboxAccess?.mode ?? (o.mailboxAccess === 'unset' ? 'rbac' : o.mailboxAccess),
    redirectUris: o.redirectUris ?? [],
    adminConsentUrl: consent,
    smtpAuthBlocked: (report.smtpAuth?.mailboxes ?? []).filter((m) => m.effectiveDisabled).map((m) => m.mailbox),
    pending: report.resources
      .filter((r) => !['unchanged', 'created', 'updated'].includes(r.status))
      .map((r) => `${r.key} (${r.status})`),
    // The hand-off says these itself (SMTP AUTH blocked, the delegated consent): not twice.
    notes: report.notes
      .filter((n) => n.code !== 'smtp-auth-disabled' && n.code !== 'delegated-consent')
      .map((n) => n.text),
  };
}

export interface HandoffOutput {
  target: HandoffTarget;
  file?: string;
  content: string;
}

/** Renders the hand-off of `options.target` and writes it to `--out` (0600 with a secret) or returns it for stdout. */
export function renderFor(run: TenantRun, report: RunResult): HandoffOutput {
  const o = run.ctx.options;
  const target = o.target!;
  let content: string;
  try {
    content = renderHandoff(target, handoffFacts(run, report), run.ctx.profile);
  } catch (err) {
    if (err instanceof HandoffError) throw new CliError(err.message, ExitCode.badInput);
    throw err;
  }
  if (o.handoffOut) {
    writeHandoffFile(o.handoffOut, content, o.includeSecret === true);
    return { target, file: o.handoffOut, content };
  }
  return { target, content };
}

/** Writes a rendered hand-off where it belongs (stdout unless --out) and says so on stderr. */
export function emitHandoff(out: HandoffOutput, o: ProvisionOptions, json: boolean): void {
  if (out.file)
    process.stderr.write(
      `Hand-off for ${TARGETS[out.target].label} written to ${out.file}${o.includeSecret ? ' (mode 0600, holds the secret)' : ''}.\n`,
    );
  else if (!json) process.stdout.write(out.content.endsWith('\n') ? out.content : `${out.content}\n`);
}

/** The hand-off in the JSON result: the file it was written to, or its content. */
export function handoffJson(out: HandoffOutput): Record<string, unknown> {
  return { target: out.target, file: out.file ?? null, ...(out.file ? {} : { content: out.content }) };
}

export async function handoffCommand(flags: CommandFlags): Promise<number> {
  return runTenantCommand(handoffTenantCommand(loadOptions(flags)));
}

/** `handoff` of one tenant's options (also one tenant of a fleet). */
export function handoffTenantCommand(options: ProvisionOptions & { tenant: string }): TenantCommand {
  if (!options.target)
    throw new CliError(`--target: is required: one of ${Object.keys(TARGETS).join(', ')}`, ExitCode.badInput, {
      field: '--target',
    });
  return {
    name: 'handoff',
    options,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    async render(run, r) {
      say(`Read ${options.tenant} (${r.tenant.id}) for the hand-off: ${TARGETS[options.target!].label}.`);
      if (r.failure) return {};
      const pending = r.resources.filter((x) => x.status !== 'unchanged');
      for (const x of pending) say(`  ! not in place: ${x.key} (${x.status})`);
      const out = renderFor(run, r);
      emitHandoff(out, options, options.output === 'json');
      return { handoff: handoffJson(out), notInPlace: pending.map((x) => x.key) };
    },
  };
}
