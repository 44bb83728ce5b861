/**
 * One interface for Exchange Online administration: `invoke(cmdlet, parameters)`. Backends: REST (InvokeCommand,
 * as the ExchangeOnlineManagement module itself uses) and pwsh (the module in one long-lived PowerShell session).
 * Resources never know which one runs.
 */

export type ExchangeErrorKind =
  'not-found' | 'already-exists' | 'access-denied' | 'throttled' | 'transient' | 'invalid-input' | 'unknown';

/** A cmdlet failed. `exchangeMessage` is Exchange's own text (never holds a secret: parameters are not echoed). */
export class ExchangeError extends Error {
  constructor(
    readonly cmdlet: string,
    readonly kind: ExchangeErrorKind,
    readonly exchangeMessage: string,
    readonly status?: number,
  ) {
    super(`${cmdlet} failed (${kind}): ${exchangeMessage}`);
    this.name = 'ExchangeError';
  }
}

export type CmdletParameters = Record<string, string | number | boolean | null | string[]>;

export interface ExchangeCall {
  cmdlet: string;
  parameters?: CmdletParameters;
}

export interface ExchangeBackend {
  readonly name: 'rest' | 'pwsh';
  invoke<T = Record<string, unknown>>(cmdlet: string, parameters?: CmdletParameters): Promise<T[]>;
  /**
   * Several independent reads in one round trip where the backend can (REST $batch). Answers in the order of
   * `calls`: each call's rows, or its ExchangeError (as `invoke` would have thrown it). Optional: `invokeAll` falls
   * back to `invoke`, one call after another, for a backend without it.
   */
  invokeMany?(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>>;
  /** Requests sent so far (for reports and benchmarks). */
  readonly requestCount: number;
  close(): Promise<void>;
}
