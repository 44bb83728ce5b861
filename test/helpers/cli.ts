/**
 * Test helper: runs the built CLI as a user would (node dist/cli/main.js …), without a TTY.
 */
import { spawn } from 'node:child_process';
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

export function runCli(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
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
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (o.killWhen?.test(stderr)) child.kill('SIGKILL');
      o.onStderr?.(stderr);
    });
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
}
