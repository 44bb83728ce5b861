/**
 * Microsoft Graph through @microsoft/microsoft-graph-client, with what Entra needs on top: throttling honoured
 * (the client's RetryHandler, Retry-After), transient network failures retried with capped backoff under a
 * deadline, and replication waits (404 / NoBackingApplicationObject right after a create) retried until the
 * object is there.
 */
import {
  AuthenticationHandler,
  Client,
  HTTPMessageHandler,
  RedirectHandler,
  ResponseType,
  RetryHandler,
  RetryHandlerOptions,
} from '@microsoft/microsoft-graph-client';
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import { isSignInError, type CloudProfile } from '../auth/index.js';

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
  ) {
    super(`Graph ${method} ${path} got no answer: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'GraphNetworkError';
  }
}

export interface GraphResponse<T> {
  status: number;
  body: T | undefined;
}

export interface GraphOptions {
  credential: TokenCredential;
  profile: CloudProfile;
  /** Tenant whose tokens are used (id or domain). */
  tenant: string;
  dispatcher: Agent;
  signal?: AbortSignal;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** How long retries of transient failures may go on in total. */
  retryDeadlineMs?: number;
  /** Called before each retry wait (for progress). */
  onRetry?: (what: string, delayMs: number) => void;
  /** Sleep; injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Retry after a network failure even for POST (the caller knows a repeat is harmless). */
  idempotent?: boolean;
}

export class GraphApi {
  private readonly client: Client;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Requests sent (after retries are counted individually): for reports and benchmarks. */
  requestCount = 0;

  constructor(private readonly o: GraphOptions) {
    this.sleep = o.sleep ?? abortableSleep;
    const scope = o.profile.graphScope;
    const authProvider = {
      getAccessToken: async (): Promise<string> => {
        const t = await o.credential.getToken(scope, { tenantId: o.tenant, abortSignal: o.signal });
        if (!t) throw new Error('the operator credential returned no Graph token');
        return t.token;
      },
    };
    const auth = new AuthenticationHandler(authProvider);
    // The SDK retries 429/503/504. A POST may have taken effect before a 503/504 (addPassword would then leave a
    // second secret), so POSTs are retried by `request` below, which knows which ones are safe to repeat.
    const retry = new RetryHandler(
      new RetryHandlerOptions(1, 5, (_delay, _attempt, _request, options, response) => {
        const method = (options?.method ?? 'GET').toUpperCase();
        return method !== 'POST' || response.status === 429;
      }),
    );
    const redirect = new RedirectHandler();
    const http = new HTTPMessageHandler();
    auth.setNext(retry);
    retry.setNext(redirect);
    redirect.setNext(http);
    const base = new URL(o.profile.graphBaseUrl);
    this.client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: `${base.origin}/`,
      defaultVersion: base.pathname.replace(/^\//, '') || 'v1.0',
      customHosts: new Set([base.hostname]),
      fetchOptions: { dispatcher: o.dispatcher } as unknown as RequestInit,
    });
  }

  private async once<T>(method: string, path: string, body: unknown, opts: RequestOptions): Promise<GraphResponse<T>> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 60_000);
    const signal = this.o.signal ? AbortSignal.any([this.o.signal, timeout]) : timeout;
    let req = this.client.api(path).responseType(ResponseType.RAW).option('signal', signal);
    if (opts.headers) req = req.headers(opts.headers);
    this.requestCount += 1;
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
      // The operator's token could not be had: Graph was never asked, and retrying will not help.
      if (isSignInError(err)) throw err;
      throw new GraphNetworkError(method, path, err);
    }
    const text = res.status === 204 ? '' : await res.text();
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
      );
    }
    return { status: res.status, body: parsed as T | undefined };
  }

  /**
   * Sends a request; transient failures (network errors for idempotent requests, 429/5xx left after the client's
   * own retries) are retried with capped exponential backoff until the deadline.
   */
  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<GraphResponse<T>> {
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    for (;;) {
      try {
        return await this.once<T>(method, path, body, opts);
      } catch (err) {
        const retryable =
          (err instanceof GraphNetworkError && (method !== 'POST' || opts.idempotent)) ||
          (err instanceof GraphRequestError &&
            (err.status === 429 ||
              ((err.status === 503 || err.status === 504 || err.status === 502) &&
                (method !== 'POST' || opts.idempotent))));
        if (!retryable || Date.now() + delay > deadline) throw err;
        this.o.onRetry?.(`${method} ${path}: ${(err as Error).message}`, delay);
        await this.sleep(delay, this.o.signal);
        delay = Math.min(delay * 2, 16_000);
      }
    }
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
  async untilReplicated<T>(
    what: string,
    fn: () => Promise<T>,
    isReplicationLag: (err: unknown) => boolean,
  ): Promise<T> {
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isReplicationLag(err) || Date.now() + delay > deadline) throw err;
        this.o.onRetry?.(`${what}: waiting for directory replication`, delay);
        await this.sleep(delay, this.o.signal);
        delay = Math.min(delay * 2, 16_000);
      }
    }
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
