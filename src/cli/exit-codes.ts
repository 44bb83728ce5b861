/** Exit codes are part of the interface (README, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  proofNotPassed: 3,
  changesPending: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is meant for the operator, with the exit code it ends the process with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
