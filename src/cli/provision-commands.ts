/**
 * `plan`, `apply` and `status` for one tenant: renderers of the TenantRun (tenant-command.ts).
 */
import { requireTarget, resolveOptions, type ProvisionOptions } from '../config/index.js';
import type { RunResult, TenantRun } from '../provision/index.js';
import { fromConfigError, isConfigError } from './exit-codes.js';
import { result } from './output.js';
import { runTenantCommand, type TenantCommand } from './tenant-command.js';

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
    if (isConfigError(err)) throw fromConfigError(err);
    throw err;
  }
}

const isTty = (): boolean => Boolean(process.stdin.isTTY && process.stderr.isTTY);

export async function planCommand(flags: CommandFlags): Promise<number> {
  return runTenantCommand(planTenantCommand(loadOptions(flags), flags));
}

/** `plan` of one tenant's options (also one tenant of a fleet). */
export function planTenantCommand(options: ProvisionOptions & { tenant: string }, flags: CommandFlags): TenantCommand {
  return {
    name: 'plan',
    options,
    detailedExitcode: flags.detailedExitcode,
    interactive: isTty(),
  };
}

export async function applyCommand(flags: CommandFlags): Promise<number> {
  return runTenantCommand(applyTenantCommand(loadOptions(flags), flags));
}

/** `apply` of one tenant's options (also one tenant of a fleet). */
export function applyTenantCommand(options: ProvisionOptions & { tenant: string }, flags: CommandFlags): TenantCommand {
  return {
    name: 'apply',
    options,
    yes: flags.yes,
    interactive: isTty(),
    render: options.target ? renderApplyHandoff : undefined,
    // A hand-off printed on stdout is the result: the summary goes beside the progress then.
    summaryTo: options.target && !options.handoffOut ? 'stderr' : 'stdout',
  };
}

/** `apply --target`: the hand-off of the sending system, from this run's result (no second read). */
export async function renderApplyHandoff(run: TenantRun, r: RunResult): Promise<Record<string, unknown>> {
  const { renderFor, emitHandoff, handoffJson } = await import('./handoff-command.js');
  const out = renderFor(run, r);
  emitHandoff(out, run.ctx.options, run.ctx.options.output === 'json');
  return { handoff: handoffJson(out) };
}

export interface CredentialExpiry {
  type: 'secret' | 'certificate';
  keyId: string;
  displayName: string | null;
  expires: string | null;
  daysLeft: number | null;
  /** Ends within --expiry-warning, or has ended: a finding. */
  warning: boolean;
  /** Replaced by a rotation: the first apply or rotate after this removes it (not a finding while it lives). */
  retireAfter?: string;
}

/** The replaced credentials the sink keeps (none when it cannot be read: the preflight names that). */
function heldPrevious(run: TenantRun): Array<{ keyId: string; retireAfter?: string }> | undefined {
  try {
    return run.ctx.sink?.read()?.previous;
  } catch {
    return undefined;
  }
}

/** Every secret and certificate of the app, with its days left and whether it ends within the warning window. */
export function credentialExpiries(run: TenantRun, warningMs: number, now = Date.now()): CredentialExpiry[] {
  const app = run.application()?.app;
  const replaced = new Map(
    (heldPrevious(run) ?? []).filter((p) => p.retireAfter).map((p) => [p.keyId, p.retireAfter!]),
  );
  return [
    ...(app?.passwordCredentials ?? []).map((c) => ({ ...c, type: 'secret' as const })),
    ...(app?.keyCredentials ?? []).map((c) => ({ ...c, type: 'certificate' as const })),
  ].map((c) => ({
    type: c.type,
    keyId: c.keyId,
    displayName: c.displayName,
    expires: c.endDateTime,
    daysLeft: c.endDateTime ? Math.floor((Date.parse(c.endDateTime) - now) / 86_400_000) : null,
    warning:
      c.endDateTime !== null &&
      (Date.parse(c.endDateTime) <= now || (!replaced.has(c.keyId) && Date.parse(c.endDateTime) - now <= warningMs)),
    ...(replaced.has(c.keyId) ? { retireAfter: replaced.get(c.keyId) } : {}),
  }));
}

export async function statusCommand(flags: CommandFlags): Promise<number> {
  return runTenantCommand(statusTenantCommand(loadOptions(flags), flags));
}

/** `status` of one tenant's options (also one tenant of a fleet). */
export function statusTenantCommand(
  options: ProvisionOptions & { tenant: string },
  flags: CommandFlags,
): TenantCommand {
  return {
    name: 'status',
    options,
    detailedExitcode: flags.detailedExitcode,
    interactive: isTty(),
    // A credential inside the warning window is a finding, like drift (--detailed-exitcode: 4).
    adjustOutcome: (r, extra) =>
      r.outcome === 'ok' && Array.isArray(extra.expiring) && extra.expiring.length > 0 ? 'changes-pending' : r.outcome,
    async render(run, r) {
      const { nodeLines } = await import('./output.js');
      const credentials = credentialExpiries(run, options.expiryWarning.ms);
      const expiring = credentials.filter((c) => c.warning).map((c) => c.keyId);
      const drift = r.resources.filter((x) => x.status === 'pending').map((x) => x.key);
      if (options.output !== 'json') {
        result(`Status of ${options.tenant} (${r.tenant.id}):`);
        for (const p of r.preflight.filter((x) => x.status === 'failed'))
          for (const l of nodeLines(p, 'plan')) result(l);
        for (const n of r.resources) for (const l of nodeLines(n, 'plan')) result(l);
        for (const c of credentials)
          result(
            `  ${c.warning ? '!' : ' '} ${c.type} ${c.keyId} "${c.displayName ?? ''}": ${c.daysLeft === null ? 'no end date' : c.daysLeft < 0 ? 'EXPIRED' : `${c.daysLeft} days left`}${c.warning && c.daysLeft !== null && c.daysLeft >= 0 ? ` (within --expiry-warning ${options.expiryWarning.text})` : ''}${c.retireAfter ? ` (replaced: retired by the first apply or rotate after ${c.retireAfter})` : ''}`,
          );
        if (expiring.length > 0)
          result(
            `${expiring.length} credential(s) end within ${options.expiryWarning.text} or have ended: \`sendasapp rotate\` replaces the one in --secret-out now; apply rotates it within --rotate-within (default: its last 14 days).`,
          );
        result(
          drift.length === 0
            ? 'Everything is as configured.'
            : `${drift.length} resource(s) differ from the configuration (drift).`,
        );
        const { summaryLines } = await import('./output.js');
        for (const l of summaryLines(r)) result(l);
      }
      return { drift, credentials, expiring, findings: drift.length + expiring.length };
    },
  };
}
