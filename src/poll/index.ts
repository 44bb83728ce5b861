/**
 * The one waiting-and-retrying helper (DESIGN.md: "Waiting and retrying go through one poller"): capped exponential
 * backoff with jitter, Retry-After honoured, an overall deadline, and cancellation. Graph, Exchange, the token
 * service, the SMTP proof and the provisioning waits (consent, replication, permission caches) all use it, so a
 * wait behaves and reports the same everywhere.
 *
 * No module state: every call carries its own options.
 */

export interface RetryInfo {
  /** What is being waited for, for people: "GET /applications(…)", "admin consent in contoso". */
  what: string;
  /** The attempt that just failed (1 = the first try). */
  attempt: number;
  /** How long the poller now sleeps before the next attempt. */
  delayMs: number;
  /** Why it tries again (the error's or the step's short text). */
  reason: string;
}

export interface PollOptions {
  what: string;
  /** Total budget from the first attempt, in ms (default 120 000). 0 = one attempt, no wait. */
  deadlineMs?: number;
  /** First delay (default 1000 ms). */
  baseMs?: number;
  /** Longest delay between attempts (default 16 000 ms). */
  capMs?: number;
  /** Most attempts (default: unlimited within the deadline). */
  maxAttempts?: number;
  /** Random spread of each delay, a fraction of it: 0.2 = ±20 % (default 0.2; 0 for exact delays in tests). */
  jitter?: number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  /** Injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injectable for tests. */
  now?: () => number;
}

/** One step of a poll: done with a value, or not yet (with the reason and an optional Retry-After). */
export type PollStep<T> = { done: true; value: T } | { done: false; reason: string; retryAfterMs?: number };

/** The deadline passed (or the attempts ran out) while the step still said "not yet". */
export class PollTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly waitedMs: number,
    readonly attempts: number,
    readonly lastReason: string,
  ) {
    super(`${what}: still not done after ${formatDuration(waitedMs)} (${attempts} attempts): ${lastReason}`);
    this.name = 'PollTimeoutError';
  }
}

/** A sleep that ends early (rejecting with the signal's reason) when the signal aborts; no listener is left behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Ends the wait for `promise` when `signal` aborts (rejecting with its reason), for work that cannot be cancelled
 * itself (MSAL, nodemailer): the promise is left to settle, its outcome ignored; no listener is left behind.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** "90 s", "2 min", "1 h 30 min": durations for people (never "0 min"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return rest ? `${h} h ${rest} min` : `${h} h`;
}

/** The delay before attempt `attempt + 1`: base · 2^(attempt-1), capped, spread by jitter, at least Retry-After. */
export function backoffDelay(
  attempt: number,
  o: Pick<PollOptions, 'baseMs' | 'capMs' | 'jitter'>,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const base = o.baseMs ?? 1000;
  const cap = o.capMs ?? 16_000;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  const jitter = o.jitter ?? 0.2;
  const spread = jitter > 0 ? exp * jitter * (random() * 2 - 1) : 0;
  const d = Math.max(0, Math.round(exp + spread));
  return retryAfterMs !== undefined && retryAfterMs > d ? retryAfterMs : d;
}

/**
 * Calls `step` until it says done, sleeping between attempts; throws PollTimeoutError when the deadline or the
 * attempts run out, the signal's reason when aborted, and whatever `step` throws (a thrown error is final).
 */
export async function poll<T>(step: (attempt: number) => Promise<PollStep<T>>, o: PollOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const nap = o.sleep ?? sleep;
  const started = now();
  const deadline = started + (o.deadlineMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    const r = await step(attempt);
    if (r.done) return r.value;
    const remaining = deadline - now();
    const outOfAttempts = o.maxAttempts !== undefined && attempt >= o.maxAttempts;
    if (outOfAttempts || remaining <= 0) throw new PollTimeoutError(o.what, now() - started, attempt, r.reason);
    // The whole wait is used: the last pause is cut to what is left, and one more attempt is made at the deadline
    // (unless Retry-After asks for more than is left: then that attempt could not succeed).
    const wanted = backoffDelay(attempt, o, r.retryAfterMs);
    if (r.retryAfterMs !== undefined && r.retryAfterMs > remaining)
      throw new PollTimeoutError(o.what, now() - started, attempt, r.reason);
    const delayMs = Math.min(wanted, remaining);
    o.onRetry?.({ what: o.what, attempt, delayMs, reason: r.reason });
    await nap(delayMs, o.signal);
  }
}

/**
 * Runs `fn`, retrying the errors `retryable` accepts (it may return a Retry-After in ms, or true) until the
 * deadline; then the last error is thrown as it was. Other errors are thrown at once.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  retryable: (err: unknown) => boolean | { retryAfterMs?: number },
  o: PollOptions,
): Promise<T> {
  let lastError: unknown;
  try {
    return await poll<T>(async (attempt) => {
      try {
        return { done: true, value: await fn(attempt) };
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        const verdict = retryable(err);
        if (!verdict) throw err;
        lastError = err;
        return {
          done: false,
          reason: err instanceof Error ? err.message.split('\n')[0]! : String(err),
          retryAfterMs: typeof verdict === 'object' ? verdict.retryAfterMs : undefined,
        };
      }
    }, o);
  } catch (err) {
    if (err instanceof PollTimeoutError && lastError !== undefined) throw lastError;
    throw err;
  }
}

/** A Retry-After header value (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  if (Number.isFinite(n) && n >= 0) return n * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** Runs `fn` over `items` with at most `limit` in flight, each worker taking the next item as it finishes one. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
