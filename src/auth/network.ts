/**
 * What every network call of a run shares: the per-request timeout (`--timeout`), the retry budget, cancellation,
 * the request log hook behind `--verbose` / `--log-file`, and the sentences that end a call that never answered.
 * The token service, Graph, the Exchange admin API and the SMTP proof all take these bounds, so a hang or a
 * flaky network behaves and reads the same everywhere.
 */
import { formatDuration, type PollOptions } from '../poll/index.js';

/** The per-request response timeout when `--timeout` is not given. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** How long transient failures of one call are retried when the caller says nothing. */
export const DEFAULT_RETRY_DEADLINE_MS = 120_000;

export type NetworkService = 'token' | 'graph' | 'exchange' | 'smtp' | 'keyvault';

/**
 * One request on the wire (or one Exchange cmdlet, batched or not; or one SMTP attempt), for `--verbose` and
 * `--log-file`. Never carries a header, a body value, a token or a secret: `target` is a path with its query
 * values replaced by `…`, a cmdlet name, or an SMTP host and port.
 */
export interface RequestEvent {
  service: NetworkService;
  /** HTTP method; for SMTP the step ("AUTH XOAUTH2", "SEND"). */
  method: string;
  /** Path without query values (`/v1.0/applications?$filter=…`), a cmdlet (`Get-Mailbox`), or `host:port`. */
  target: string;
  /** HTTP status or SMTP reply code; a short word when there was no answer ("timeout", "ECONNRESET"). */
  status: number | string;
  /** Time from sending to the answer (or the failure), in ms. */
  ms: number;
  /** The cmdlet travelled in a `$batch` (its `ms` is the batch's). */
  batched?: boolean;
}

export type RequestObserver = (e: RequestEvent) => void;

/** The bounds every client of a run takes (all optional; the defaults are production values). */
export interface NetworkBounds {
  /** Response timeout per request, in ms (`--timeout`; default 60 000). Connecting has the same bound. */
  timeoutMs?: number;
  /** Total time transient failures of one call may be retried, in ms (default 120 000; 0 = no retry). */
  retryDeadlineMs?: number;
  /** First retry delay, in ms (default 1000; tests shorten it). */
  retryBaseMs?: number;
  /** The run's cancellation (Ctrl-C, the run deadline). */
  signal?: AbortSignal;
  /** Called once per request with its outcome. */
  onRequest?: RequestObserver;
  /** Called before each retry wait (for progress): what is retried and why, and the wait. */
  onRetry?: (what: string, delayMs: number) => void;
}

/** The poller's options for retrying one call under `b` (its deadline, first delay, cancellation, progress). */
export function retryOptions(what: string, b: NetworkBounds & { sleep?: PollOptions['sleep'] }): PollOptions {
  return {
    what,
    deadlineMs: b.retryDeadlineMs ?? DEFAULT_RETRY_DEADLINE_MS,
    baseMs: b.retryBaseMs,
    signal: b.signal,
    sleep: b.sleep,
    onRetry: b.onRetry && ((i) => b.onRetry!(`${i.what}: ${i.reason}`, i.delayMs)),
  };
}

/** How a service is named for people: "the token service at https://login.microsoftonline.com". */
export function serviceLabel(service: NetworkService, where: string): string {
  switch (service) {
    case 'token':
      return `the token service at ${originOf(where)}`;
    case 'graph':
      return `Microsoft Graph at ${originOf(where)}`;
    case 'exchange':
      return `the Exchange admin API at ${originOf(where)}`;
    case 'smtp':
      return `the SMTP server ${where}`;
    case 'keyvault':
      return `Azure Key Vault at ${originOf(where)}`;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * A call that could not be completed on the network: no answer within the timeout, or the connection failed
 * (after the retries the call allowed). The message is the whole sentence an operator needs.
 */
export class ServiceUnreachableError extends Error {
  constructor(
    readonly service: NetworkService,
    /** The service's address (origin, or host:port). */
    readonly where: string,
    readonly reason: 'timeout' | 'network',
    /** What was asked ("POST /contoso.onmicrosoft.com/oauth2/v2.0/token", "Get-Mailbox"). */
    readonly what: string,
    readonly timeoutMs: number,
    /** The network's own words ("ECONNRESET", "socket hang up"), for a network failure. */
    readonly detail?: string,
  ) {
    super(
      reason === 'timeout'
        ? timeoutSentence(service, where, what, timeoutMs)
        : `${serviceLabel(service, where)} could not be reached for ${what}${detail ? ` (${detail})` : ''}; check the network, a proxy or firewall, and --cloud / --endpoints`,
    );
    this.name = 'ServiceUnreachableError';
  }
}

/** "Microsoft Graph at https://… did not answer GET /applications within 60 s; …--timeout…". */
export function timeoutSentence(service: NetworkService, where: string, what: string, timeoutMs: number): string {
  return `${serviceLabel(service, where)} did not answer ${what} within ${formatDuration(timeoutMs)}; if it is only slow, allow each request more time with --timeout (default ${formatDuration(DEFAULT_TIMEOUT_MS)})`;
}

/** HTTP statuses worth sending again: throttled, or the service briefly unavailable. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Error codes of a connection that failed before any answer (worth one more try). */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Codes and names of "no answer in time" (undici's own timeouts, an AbortSignal.timeout). */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether a failure is a timeout (of undici or of an AbortSignal.timeout), looking through `cause` chains. */
export function isTimeoutError(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; name?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if ((typeof e.code === 'string' && TIMEOUT_CODES.has(e.code)) || e.name === 'TimeoutError') return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** The network's own code for a failure (`ECONNRESET`), looking through `cause` chains; undefined if none. */
export function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** A path for the request log: query values replaced by `…` (they may hold names or addresses). */
export function logTarget(pathOrUrl: string): string {
  let path = pathOrUrl;
  try {
    if (/^https?:\/\//i.test(pathOrUrl)) {
      const u = new URL(pathOrUrl);
      path = u.pathname + u.search;
    }
  } catch {
    // keep the text as given
  }
  const q = path.indexOf('?');
  if (q < 0) return path;
  const keys = path
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((kv) => `${safeDecode(kv.split('=')[0]!)}=…`);
  return `${path.slice(0, q)}${keys.length ? `?${keys.join('&')}` : ''}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The run's signal and a per-request timeout as one signal; `timedOut()` tells the two apart afterwards. */
export function requestSignal(
  timeoutMs: number,
  signal?: AbortSignal,
): { signal: AbortSignal; timedOut: () => boolean } {
  const timeout = AbortSignal.timeout(timeoutMs);
  return {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    timedOut: () => timeout.aborted && !signal?.aborted,
  };
}
