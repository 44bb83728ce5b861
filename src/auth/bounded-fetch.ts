/**
 * One HTTP request under the run's bounds, for the clients that call fetch themselves (the Exchange admin API, the
 * sign-in metadata): the per-request timeout, the run's cancellation, the outcome reported once, and no answer
 * turned into ServiceUnreachableError ('timeout' is final, 'network' is worth another try).
 */
import type { Agent } from 'undici';
import { parseRetryAfter, retry } from '../poll/index.js';
import {
  DEFAULT_TIMEOUT_MS,
  ServiceUnreachableError,
  isTimeoutError,
  isTransientStatus,
  logTarget,
  networkCode,
  requestSignal,
  retryOptions,
  type NetworkBounds,
  type NetworkService,
} from './network.js';

export interface HttpReply {
  status: number;
  /** The body as text ('' when empty). */
  text: string;
  retryAfterMs?: number;
  /** Time from sending to the end of the body, in ms. */
  ms: number;
}

export interface SendOptions {
  service: NetworkService;
  /** The service's base URL, for the sentence that ends a failure. */
  where: string;
  /** What is asked, for people: "Get-Mailbox", "GET /contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration". */
  what: string;
  dispatcher: Agent;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Hears the outcome: the status, or "timeout" / the network's code. */
  report?: (status: number | string, ms: number) => void;
}

/** Sends one request; throws ServiceUnreachableError when no answer came (or the run's signal's reason). */
export async function sendBounded(url: string, init: RequestInit, o: SendOptions): Promise<HttpReply> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { signal, timedOut } = requestSignal(timeoutMs, o.signal);
  const started = performance.now();
  const ms = (): number => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, { ...init, signal, dispatcher: o.dispatcher } as RequestInit);
    const text = await res.text();
    o.report?.(res.status, ms());
    return { status: res.status, text, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')), ms: ms() };
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    const late = timedOut() || isTimeoutError(err);
    const code = networkCode(err);
    o.report?.(late ? 'timeout' : (code ?? 'error'), ms());
    throw new ServiceUnreachableError(
      o.service,
      o.where,
      late ? 'timeout' : 'network',
      o.what,
      timeoutMs,
      code ?? (err as Error)?.message,
    );
  }
}

/** A 408/429/5xx answer carried through the poller; the last one is handed back as it came. */
class TransientReply extends Error {
  constructor(readonly reply: HttpReply) {
    super(`answered ${reply.status}`);
  }
}

/**
 * A GET (or another request that is safe to repeat) retried through the poller while it gets no answer or a
 * 408/429/5xx (Retry-After honoured) until the retry deadline; the last such answer is returned as it came. A
 * timeout is final. One RequestEvent per request.
 */
export async function fetchRetrying(
  url: string,
  init: RequestInit,
  o: Omit<SendOptions, 'report' | 'what' | 'timeoutMs' | 'signal'> & NetworkBounds & { what?: string },
): Promise<HttpReply> {
  const method = (init.method ?? 'GET').toUpperCase();
  const what = o.what ?? `${method} ${new URL(url).pathname}`;
  const report = (status: number | string, ms: number): void =>
    o.onRequest?.({ service: o.service, method, target: logTarget(url), status, ms });
  try {
    return await retry(
      async () => {
        const r = await sendBounded(url, init, { ...o, what, report });
        if (isTransientStatus(r.status)) throw new TransientReply(r);
        return r;
      },
      (err) =>
        err instanceof TransientReply
          ? { retryAfterMs: err.reply.retryAfterMs }
          : err instanceof ServiceUnreachableError && err.reason === 'network',
      retryOptions(what, o),
    );
  } catch (err) {
    if (err instanceof TransientReply) return err.reply;
    throw err;
  }
}
