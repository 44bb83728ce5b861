/**
 * `--verbose` and `--log-file`: one line per request of the run — service, method, path (query values elided) or
 * cmdlet, status, time — on stderr and/or appended to a file. Never a header, a body value, a token or a secret:
 * the events carry none (src/auth/network.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { RequestEvent, RequestObserver } from '../auth/index.js';
import { CliError, ExitCode } from './exit-codes.js';

export function requestLine(e: RequestEvent, now = new Date()): string {
  return `${now.toISOString()} ${e.service} ${e.method} ${e.target} ${e.status} ${Math.round(e.ms)} ms${e.batched ? ' (batch)' : ''}`;
}

export interface RequestLog {
  onRequest?: RequestObserver;
  close(): void;
}

export function openRequestLog(o: { verbose?: boolean; logFile?: string }): RequestLog {
  let fd: number | undefined;
  if (o.logFile) {
    try {
      fd = openSync(o.logFile, 'a', 0o600);
    } catch (err) {
      throw new CliError(
        `--log-file: cannot open ${o.logFile} for appending (${(err as NodeJS.ErrnoException).code ?? 'error'}); give a writable file`,
        ExitCode.badInput,
        { field: '--log-file' },
      );
    }
  }
  if (!o.verbose && fd === undefined) return { close() {} };
  return {
    onRequest(e) {
      const line = requestLine(e);
      if (o.verbose) process.stderr.write(`  ${line}\n`);
      if (fd !== undefined) writeSync(fd, `${line}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
