/**
 * Test helper: runs the built CLI as a user would (node dist/cli/main.js …), without a TTY.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_PATH = path.join(root, 'dist/cli/main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON object (with --output json). */
  json<T = Record<string, unknown>>(): T;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Kill the process (SIGKILL) as soon as stderr contains this text. */
  killWhen?: RegExp;
  /** Called with all of stderr so far whenever more arrives (to act while the CLI waits, e.g. open a URL). */
  onStderr?: (stderrSoFar: string) => void;
  timeoutMs?: number;
}

/** A CLI process that is still running: send it signals, read what it printed so far, await its end. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
}

export function spawnCli(args: string[], o: CliOptions = {}): RunningCli {
  const env: Record<string, string | undefined> = { ...process.env, ...o.env };
  // Never let the developer's own Azure sign-in leak into a test.
  for (const k of Object.keys(env)) if (/^(AZURE_|SENDASAPP_)/.test(k) && !(o.env && k in o.env)) delete env[k];
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (o.killWhen?.test(stderr)) child.kill('SIGKILL');
    o.onStderr?.(stderr);
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json<T>() {
          return JSON.parse(stdout) as T;
        },
      });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export function runCli(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, o).exited;
}

/** What a run of apply (or plan, status) is told, as options; each one left out is not passed. */
export interface ApplyArgs {
  /** The endpoints file (the emulator's, or a doctored copy). */
  endpoints: string;
  tenant: string;
  homeTenant?: string;
  mailboxes?: string[];
  group?: string;
  /**
   * --mailbox-access; 'full-access' unless given (the mode the tests were written for before rbac became the
   * default of new setups); null leaves the option out (unset: resolved from the tenant).
   */
  mailboxAccess?: string | null;
  appName?: string;
  appId?: string;
  flow?: string;
  redirectUri?: string;
  credential?: string;
  certificateFile?: string;
  /** --enable-smtp-auth; 'mailbox' unless given (null leaves the option out). */
  enableSmtpAuth?: string | null;
  secretOut?: string;
  /** --wait; '30s' unless given (null leaves the option out). */
  wait?: string | null;
  target?: string;
  /** --yes; on unless false. */
  yes?: boolean;
  /** --output json; on unless false. */
  json?: boolean;
}

/** The options of an apply / plan / status run (no command), in one order, then `extra`. */
export function applyOptions(o: ApplyArgs, ...extra: string[]): string[] {
  const opt = (name: string, value: string | null | undefined): string[] =>
    value === undefined || value === null ? [] : [name, value];
  return [
    ...opt('--endpoints', o.endpoints),
    ...opt('--home-tenant', o.homeTenant),
    ...opt('--tenant', o.tenant),
    ...(o.mailboxes ?? []).flatMap((m) => ['--mailbox', m]),
    ...opt('--group', o.group),
    ...opt('--mailbox-access', o.mailboxAccess === undefined ? 'full-access' : o.mailboxAccess),
    ...opt('--app-name', o.appName),
    ...opt('--app-id', o.appId),
    ...opt('--flow', o.flow),
    ...opt('--redirect-uri', o.redirectUri),
    ...opt('--credential', o.credential),
    ...opt('--certificate-file', o.certificateFile),
    ...opt('--enable-smtp-auth', o.enableSmtpAuth === undefined ? 'mailbox' : o.enableSmtpAuth),
    ...opt('--secret-out', o.secretOut),
    ...opt('--wait', o.wait === undefined ? '30s' : o.wait),
    ...opt('--target', o.target),
    ...(o.yes === false ? [] : ['--yes']),
    ...(o.json === false ? [] : ['--output', 'json']),
    ...extra,
  ];
}

/** `apply` with applyOptions. */
export function applyArgs(o: ApplyArgs, ...extra: string[]): string[] {
  return ['apply', ...applyOptions(o, ...extra)];
}

/** `verify` of an app's credential file against one mailbox. */
export function verifyArgs(
  o: { endpoints: string; tenant: string; clientId: string; secretFile: string; mailbox: string; wait: string },
  ...extra: string[]
): string[] {
  return [
    'verify',
    '--endpoints',
    o.endpoints,
    '--tenant',
    o.tenant,
    '--client-id',
    o.clientId,
    '--secret-file',
    o.secretFile,
    '--mailbox',
    o.mailbox,
    '--wait',
    o.wait,
    ...extra,
  ];
}
