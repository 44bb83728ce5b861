/**
 * `sendasapp list`: the apps in a tenant that sendasapp made or adopted, with their mode, mailboxes, credential
 * expiry and what their provenance record says — a table on stdout, or one JSON object with --output json
 * (`{command: "list", tenant, apps: […]}`). Reads only.
 *
 * Exit codes: 0 listed (also when there is none), 1 the tenant could not be read, 2 bad input, 130/143 interrupted.
 */
import type { InventoryApp } from '../provision/index.js';
import { CliError, ExitCode, isConfigError } from './exit-codes.js';
import { printJson, result } from './output.js';
import { loadOptions, type CommandFlags } from './provision-commands.js';
import { openRequestLog } from './request-log.js';
import { Interrupted, interruptible, signalExitCode } from './tenant-command.js';

function cell(v: string, width: number): string {
  return v.length > width ? `${v.slice(0, width - 1)}…` : v.padEnd(width);
}

/** The table for people: one line per app. */
export function listLines(apps: InventoryApp[]): string[] {
  if (apps.length === 0) return ['No app of sendasapp in this tenant.'];
  const rows = apps.map((a) => [
    a.displayName ?? '',
    a.appId,
    a.mode ?? '?',
    a.group ? `group ${a.group}` : a.mailboxes ? a.mailboxes.join(' ') : '?',
    a.daysLeft === null ? 'none live' : `${a.daysLeft} days (${a.credentialExpires!.slice(0, 10)})`,
    a.provenance === 'record' ? `${a.origin}, ${a.recorded!.slice(0, 10)}` : `${a.origin}, no record`,
    a.lastProof ?? '-',
  ]);
  const head = ['NAME', 'APP ID', 'MODE', 'MAILBOXES', 'CREDENTIAL', 'RECORD', 'LAST PROOF'];
  const widths = head.map((h, i) => Math.min(i === 1 ? 36 : 40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]): string =>
    r
      .map((v, i) => cell(v, widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

export async function listCommand(flags: CommandFlags): Promise<number> {
  const options = { ...loadOptions(flags, false), exchange: 'rest' as const };
  const { signal, which, dispose } = interruptible(10 * 60_000);
  const requests = openRequestLog(options);
  const { openContext, inventory, explainError } = await import('../provision/index.js');
  let ctx: Awaited<ReturnType<typeof openContext>> | undefined;
  try {
    try {
      ctx = await openContext(options, {
        isTty: Boolean(process.stdin.isTTY && process.stderr.isTTY),
        progress: (l) => void process.stderr.write(`${l}\n`),
        signal,
        onRequest: requests.onRequest,
      });
    } catch (err) {
      if (isConfigError(err) || signal.aborted) throw err;
      throw new CliError(explainError(err), ExitCode.failed);
    }
    let apps: InventoryApp[];
    try {
      apps = await inventory(ctx);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new CliError(explainError(err), ExitCode.failed);
    }
    if (options.output === 'json') printJson({ command: 'list', tenant: ctx.homeTenantId, apps });
    else for (const l of listLines(apps)) result(l);
    return ExitCode.ok;
  } catch (err) {
    if (signal.aborted && signal.reason instanceof Interrupted) return signalExitCode(which() ?? 'SIGINT');
    throw err;
  } finally {
    dispose();
    await ctx?.exchange.close().catch(() => undefined);
    await ctx?.dispatcher.close().catch(() => undefined);
    requests.close();
  }
}
