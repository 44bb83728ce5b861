/**
 * Microsoft Graph through @microsoft/microsoft-graph-client, with what Entra needs on top: every request bounded by
 * the response timeout (`--timeout`), throttling (429, Retry-After) and transient failures (resets, 502/503/504 —
 * for a POST only where a repeat is harmless) retried through the poller under a deadline, replication waits
 * (404 / NoBackingApplicationObject right after a create) retried until the object is there, and one RequestEvent
 * per request on the wire.
 */
import {
  Client,
  RedirectHandler,
  ResponseType,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import {
  DEFAULT_TIMEOUT_MS,
  isTimeoutError,
  logTarget,
  networkCode,
  requestSignal,
  retryOptions,
  timeoutSentence,
  type CloudProfile,
  type NetworkBounds,
} from '../auth/index.js';
import { parseRetryAfter, retry } from '../poll/index.js';

export interface GraphErrorBody {
  code: string;
  message: string;
  details?: Array<{ code?: string; target?: string; message?: string }>;
}

/** A Graph answer that is not 2xx. `code` and `detailCodes` are what to branch on, never `message`. */
export class GraphRequestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string,
    readonly graphMessage: string,
    readonly detailCodes: string[],
    readonly requestId: string | undefined,
    /** The answer's Retry-After, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(`Graph ${method} ${path} answered ${status} ${code}: ${graphMessage}`);
    this.name = 'GraphRequestError';
  }
}

/** The network failed (reset, timeout) before Graph answered. */
export class GraphNetworkError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    cause: unknown,
    /** Set when the request got no answer within the timeout (`--timeout`), in ms. */
    readonly timedOutAfterMs?: number,
    origin?: string,
  ) {
    super(
      timedOutAfterMs !== undefined
        ? timeoutSentence(
            'graph',
            origin ?? 'https://graph.microsoft.com',
            `${method} ${path.split('?')[0]}`,
            timedOutAfterMs,
          )
        : `Graph ${method} ${path} got no answer: ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.name = 'GraphNetworkError';
  }
}

export interface GraphResponse<T> {
  status: number;
  body: T | undefined;
}

export interface GraphOptions extends NetworkBounds {
  credential: TokenCredential;
  profile: CloudProfile;
  /** Tenant whose tokens are used (id or domain). */
  tenant: string;
  dispatcher: Agent;
  /** Sleep between retries; injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Retry after a network failure even for POST (the caller knows a repeat is harmless). */
  idempotent?: boolean;
}

/**
 * The end of the middleware chain: fetch, keeping the network's own error (the client would reduce it to a
 * message) for the request that saw it, keyed by the request's signal.
 */
function wire(failures: WeakMap<AbortSignal, unknown>): Middleware {
  return {
    async execute(context: Context): Promise<void> {
      try {
        context.response = await fetch(context.request, context.options);
      } catch (err) {
        const signal = context.options?.signal;
        if (signal) failures.set(signal, err);
        throw err;
      }
    },
  };
}

export class GraphApi {
  private readonly client: Client;
  private readonly failures = new WeakMap<AbortSignal, unknown>();
  private readonly origin: string;
  /** Requests sent (each retry counted): for reports and benchmarks. */
  requestCount = 0;

  constructor(private readonly o: GraphOptions) {
    // No RetryHandler and no AuthenticationHandler: `request` retries through the poller (one policy for every
    // method), and `once` fetches the token itself, so that a token-service failure reaches the caller as it is.
    const redirect = new RedirectHandler();
    redirect.setNext(wire(this.failures));
    const base = new URL(o.profile.graphBaseUrl);
    this.origin = base.origin;
    this.client = Client.initWithMiddleware({
      middleware: redirect,
      baseUrl: `${base.origin}/`,
      defaultVersion: base.pathname.replace(/^\//, '') || 'v1.0',
      customHosts: new Set([base.hostname]),
      fetchOptions: { dispatcher: o.dispatcher } as unknown as RequestInit,
    });
  }

  private async token(): Promise<string> {
    const t = await this.o.credential.getToken(this.o.profile.graphScope, {
      tenantId: this.o.tenant,
      abortSignal: this.o.signal,
    });
    if (!t) throw new Error('the operator credential returned no Graph token');
    return t.token;
  }

  private async once<T>(method: string, path: string, body: unknown, opts: RequestOptions): Promise<GraphResponse<T>> {
    const token = await this.token();
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { signal, timedOut } = requestSignal(timeoutMs, this.o.signal);
    const req = this.client
      .api(path)
      .responseType(ResponseType.RAW)
      .option('signal', signal)
      .headers({ ...opts.headers, Authorization: `Bearer ${token}` });
    this.requestCount += 1;
    const started = performance.now();
    const report = (status: number | string): void =>
      this.o.onRequest?.({
        service: 'graph',
        method,
        target: logTarget(path),
        status,
        ms: Math.round(performance.now() - started),
      });
    let res: Response;
    try {
      switch (method) {
        case 'GET':
          res = (await req.get()) as Response;
          break;
        case 'POST':
          res = (await req.post(body ?? {})) as Response;
          break;
        case 'PATCH':
          res = (await req.patch(body ?? {})) as Response;
          break;
        case 'DELETE':
          res = (await req.delete()) as Response;
          break;
        default:
          throw new Error(`unsupported method ${method}`);
      }
    } catch (err) {
      if (this.o.signal?.aborted) throw this.o.signal.reason;
      const cause = this.failures.get(signal) ?? err;
      const late = timedOut() || isTimeoutError(cause);
      report(late ? 'timeout' : (networkCode(cause) ?? 'error'));
      throw new GraphNetworkError(method, path, cause, late ? timeoutMs : undefined, this.origin);
    }
    const text = res.status === 204 ? '' : await res.text();
    report(res.status);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: GraphErrorBody } | undefined)?.error;
      throw new GraphRequestError(
        method,
        path,
        res.status,
        e?.code ?? `HTTP${res.status}`,
        e?.message ?? (text.slice(0, 200) || res.statusText),
        (e?.details ?? []).map((d) => d.code ?? '').filter(Boolean),
        res.headers.get('request-id') ?? undefined,
        parseRetryAfter(res.headers.get('retry-after')),
      );
    }
    return { status: res.status, body: parsed as T | undefined };
  }

  /**
   * Sends a request; throttling (429, any method) and transient failures (no answer, 502/503/504 — for a POST only
   * when `idempotent`) are retried with capped backoff, honouring Retry-After, until the deadline. A request that
   * got no answer within the timeout is not repeated: it ends the call with a sentence naming --timeout.
   */
  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<GraphResponse<T>> {
    const repeatable = method !== 'POST' || opts.idempotent === true;
    return retry(
      () => this.once<T>(method, path, body, opts),
      (err) => {
        if (err instanceof GraphNetworkError) return repeatable && err.timedOutAfterMs === undefined;
        if (!(err instanceof GraphRequestError)) return false;
        const again = err.status === 429 || (repeatable && [502, 503, 504].includes(err.status));
        return again && { retryAfterMs: err.retryAfterMs };
      },
      retryOptions(`${method} ${path.split('?')[0]}`, this.o),
    );
  }

  get<T>(path: string, headers?: Record<string, string>): Promise<GraphResponse<T>> {
    return this.request<T>('GET', path, undefined, { headers });
  }

  /** GET that answers undefined on 404 instead of throwing. */
  async find<T>(path: string): Promise<T | undefined> {
    try {
      return (await this.get<T>(path)).body;
    } catch (err) {
      if (err instanceof GraphRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Retries `fn` while `isReplicationLag(err)` says the directory has not caught up yet (404 right after a create,
   * NoBackingApplicationObject, "not a valid reference"), backing off 1, 2, 4, 8, 16 s until the deadline.
   */
  untilReplicated<T>(what: string, fn: () => Promise<T>, isReplicationLag: (err: unknown) => boolean): Promise<T> {
    return retry(fn, isReplicationLag, retryOptions(`${what}: waiting for directory replication`, this.o));
  }
}

/** Whether an error is the directory not having replicated a just-created object yet. */
export function isReplicationLag(err: unknown): boolean {
  if (!(err instanceof GraphRequestError)) return false;
  if (err.status === 404) return true;
  if (err.detailCodes.includes('NoBackingApplicationObject')) return true;
  return (
    err.status === 400 &&
    /not a valid reference|does not reference a valid application object|does not exist/i.test(err.graphMessage)
  );
}
