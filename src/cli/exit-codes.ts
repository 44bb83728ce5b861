/** Exit codes are part of the interface (README, "Exit codes"). */
import type { ConfigError } from '../config/index.js';

export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  proofNotPassed: 3,
  changesPending: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The `code` of an error object in `--output json` (`{"error":{"code","message","field"}}`). */
export type ErrorCode = 'bad-input' | 'failed' | 'proof-not-passed' | 'interrupted';

const CODE_OF_EXIT: Partial<Record<ExitCode, ErrorCode>> = {
  [ExitCode.failed]: 'failed',
  [ExitCode.badInput]: 'bad-input',
  [ExitCode.proofNotPassed]: 'proof-not-passed',
  [ExitCode.interrupted]: 'interrupted',
};

export interface CliErrorDetails {
  /** Machine-readable kind; defaults from the exit code. */
  code?: ErrorCode;
  /** The flag, variable or file key at fault, when known. */
  field?: string;
}

/** An error whose message is meant for the operator, with the exit code it ends the process with. */
export class CliError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;

  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
    details: CliErrorDetails = {},
  ) {
    super(message);
    this.name = 'CliError';
    this.code = details.code ?? CODE_OF_EXIT[exitCode] ?? 'failed';
    if (details.field !== undefined) this.field = details.field;
  }

  /** The JSON form of the error, for `--output json`. */
  toJSON(): { error: { code: ErrorCode; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } };
  }
}

/** Whether an error is the config room's bad input (by name: this module must not load zod, for a fast --help). */
export function isConfigError(err: unknown): err is ConfigError {
  return (
    err instanceof Error &&
    err.name === 'ConfigError' &&
    typeof (err as { field?: unknown }).field === 'string' &&
    typeof (err as { reason?: unknown }).reason === 'string'
  );
}

/** Bad input as a CliError: exit 2, code bad-input, the field kept. */
export function fromConfigError(err: ConfigError): CliError {
  return new CliError(err.message, ExitCode.badInput, { code: 'bad-input', field: err.field });
}

/** Any error as a CliError: a CliError as is, a ConfigError mapped (exit 2), anything else with its message (exit 1). */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isConfigError(err)) return fromConfigError(err);
  return new CliError((err as Error)?.message ?? String(err), ExitCode.failed);
}
