/**
 * The REST backend: `POST {exchangeAdminUrl}/{tenant}/InvokeCommand` with `{"CmdletInput":{"CmdletName",
 * "Parameters"}}`, the endpoint the ExchangeOnlineManagement module itself uses (m365-facts §5). Pages are
 * followed by re-POSTing the same body to `@odata.nextLink`. Independent calls can share one request through
 * `POST {exchangeAdminUrl}/{tenant}/$batch` (`invokeMany`).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isSignInError } from '../auth/index.js';
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import {
  ExchangeError,
  type CmdletParameters,
  type ExchangeBackend,
  type ExchangeCall,
  type ExchangeErrorKind,
} from './backend.js';

export interface RestBackendOptions {
  credential: TokenCredential;
  /** e.g. https://outlook.office365.com/adminapi/beta */
  adminUrl: string;
  scope: string;
  /** Tenant id (GUID) of the organization. */
  tenantId: string;
  dispatcher: Agent;
  signal?: AbortSignal;
  timeoutMs?: number;
  retryDeadlineMs?: number;
  onRetry?: (what: string, delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface ExoErrorBody {
  error?: {
    code?: string;
    message?: string;
    details?: Array<{ message?: string }> | { message?: string };
    innererror?: { message?: string; type?: string; internalexception?: { message?: string; type?: string } };
  };
}

/** Exchange's own message, read as CIPP reads it: details → inner exception → message. */
export function exchangeErrorMessage(body: ExoErrorBody | undefined, fallback: string): string {
  const e = body?.error;
  if (!e) return fallback;
  const details = Array.isArray(e.details) ? e.details[0]?.message : e.details?.message;
  const raw = details ?? e.innererror?.internalexception?.message ?? e.innererror?.message ?? e.message ?? fallback;
  // Exchange prefixes messages with "|Type|" or "Ex6F9304|Type|": keep the sentence.
  return raw.replace(/^[^|]*\|[^|]+\|/, '').trim();
}

export function classifyExchangeError(
  status: number,
  body: ExoErrorBody | undefined,
  message: string,
): ExchangeErrorKind {
  const text = `${JSON.stringify(body?.error ?? {})} ${message}`;
  if (status === 429) return 'throttled';
  // New-ServicePrincipal: Exchange knows no such Entra service principal (wrong object id, or not replicated yet);
  // resources.ts tells the two apart (isServicePrincipalNotFound).
  if (/AADServicePrincipalNotFound/i.test(text)) return 'not-found';
  // 401 "User is not allowed to call <cmdlet>"; an app holding a directory role Exchange doesn't accept:
  // "The role assigned to application <id> isn't supported in this scenario" (m365-facts §8).
  if (
    status === 401 ||
    status === 403 ||
    /AccessDenied|not have (enough )?permission|UnauthorizedAccess|is not allowed to call|isn't supported in this scenario/i.test(
      text,
    )
  )
    return 'access-denied';
  if (status >= 500) return 'transient';
  if (/ManagementObjectNotFound|couldn't be found|could not be found|not found/i.test(text)) return 'not-found';
  if (/AlreadyExists|already exists|already has/i.test(text)) return 'already-exists';
  if (
    /ParameterBinding|AmbiguousParameterSet|Parameter set cannot be resolved|CommandNotFound|is not recognized|cannot be found that matches parameter|ValidationException|Cannot process argument|cannot convert|InvalidOperation/i.test(
      text,
    )
  )
    return 'invalid-input';
  return 'unknown';
}

/**
 * The most calls one `$batch` carries. CIPP's New-ExoBulkRequest.ps1 sends 10 per batch; the service's own limit is
 * not documented, so we keep to what is known to work.
 */
export const EXO_BATCH_LIMIT = 10;
/** Batches of one tenant in flight at once (a large mailbox list makes several). */
const BATCH_CONCURRENCY = 4;

interface Reply {
  status: number;
  json: unknown;
  retryAfter?: number;
}

interface BatchResponseItem {
  id?: unknown;
  status?: unknown;
  headers?: Record<string, unknown>;
  body?: unknown;
}

function retryAfterOf(headers: Record<string, unknown> | undefined): number | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'retry-after');
  const n = Number(key === undefined ? undefined : headers[key]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class RestExchangeBackend implements ExchangeBackend {
  readonly name = 'rest' as const;
  requestCount = 0;
  /** Set when the service refused `$batch` itself: every later call goes one by one. */
  private batchUnsupported = false;
  constructor(private readonly o: RestBackendOptions) {}

  private get invokeUrl(): string {
    return `${this.o.adminUrl}/${this.o.tenantId}/InvokeCommand`;
  }

  private get anchor(): string {
    return `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${this.o.tenantId}`;
  }

  private async token(): Promise<string> {
    const t = await this.o.credential.getToken(this.o.scope, { tenantId: this.o.tenantId, abortSignal: this.o.signal });
    if (!t) throw new ExchangeError('connect', 'access-denied', 'the operator credential returned no Exchange token');
    return t.token;
  }

  private sleep(ms: number): Promise<void> {
    if (this.o.sleep) return this.o.sleep(ms, this.o.signal);
    // timers/promises removes its abort listener when the timer fires (no listener piles up over retries).
    return delay(ms, undefined, this.o.signal ? { signal: this.o.signal } : undefined).catch((err: unknown) => {
      throw this.o.signal?.aborted ? this.o.signal.reason : err;
    });
  }

  /** The headers of one InvokeCommand call (on its own, or as an item of a batch). */
  private callHeaders(token: string, cmdlet: string): Record<string, string> {
    return {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Prefer: 'odata.maxpagesize=1000',
      'X-CmdletName': cmdlet,
      'X-ResponseFormat': 'json',
      'X-ClientApplication': 'ExoManagementModule',
      'X-AnchorMailbox': this.anchor,
    };
  }

  private async send(url: string, headers: Record<string, string>, body: string): Promise<Reply> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 120_000);
    const signal = this.o.signal ? AbortSignal.any([this.o.signal, timeout]) : timeout;
    this.requestCount += 1;
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      signal,
      dispatcher: this.o.dispatcher,
    } as RequestInit);
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const ra = Number(res.headers.get('retry-after'));
    return { status: res.status, json, retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined };
  }

  private post(url: string, cmdlet: string, body: string): Promise<Reply> {
    return this.token().then((token) => this.send(url, this.callHeaders(token, cmdlet), body));
  }

  /** The error for a failed call, classified the same way whether it came alone or in a batch. */
  private failure(cmdlet: string, status: number, body: unknown): ExchangeError {
    const message = exchangeErrorMessage(body as ExoErrorBody, `HTTP ${status}`);
    if (status === 429 || status >= 500)
      return new ExchangeError(cmdlet, status === 429 ? 'throttled' : 'transient', message, status);
    return new ExchangeError(cmdlet, classifyExchangeError(status, body as ExoErrorBody, message), message, status);
  }

  async invoke<T = Record<string, unknown>>(cmdlet: string, parameters: CmdletParameters = {}): Promise<T[]> {
    const body = JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } });
    return this.pages<T>(cmdlet, body, this.invokeUrl, []);
  }

  /** Posts `body` to `url` and follows `@odata.nextLink` (re-POSTing the same body), retrying 429/5xx. */
  private async pages<T>(cmdlet: string, body: string, first: string, out: T[]): Promise<T[]> {
    let url: string | undefined = first;
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    while (url) {
      let r: Reply;
      try {
        r = await this.post(url, cmdlet, body);
      } catch (err) {
        if (this.o.signal?.aborted) throw this.o.signal.reason;
        if (err instanceof ExchangeError || isSignInError(err)) throw err;
        if (Date.now() + delay > deadline)
          throw new ExchangeError(cmdlet, 'transient', `no answer from Exchange: ${(err as Error).message}`);
        this.o.onRetry?.(`${cmdlet}: no answer (${(err as Error).message})`, delay);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      if (r.status === 429 || r.status >= 500) {
        const wait = r.retryAfter ? r.retryAfter * 1000 : delay;
        if (Date.now() + wait > deadline) throw this.failure(cmdlet, r.status, r.json);
        this.o.onRetry?.(`${cmdlet}: Exchange answered ${r.status}`, wait);
        await this.sleep(wait);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      if (r.status >= 400) throw this.failure(cmdlet, r.status, r.json);
      const page = r.json as { value?: T[]; '@odata.nextLink'?: string } | undefined;
      out.push(...(page?.value ?? []));
      url = page?.['@odata.nextLink'];
      delay = 1000;
    }
    return out;
  }

  /**
   * Independent calls in as few requests as possible: `POST …/{tenant}/$batch` with up to EXO_BATCH_LIMIT
   * InvokeCommand items each and `Prefer: odata.continue-on-error` (as CIPP's New-ExoBulkRequest.ps1 sends them).
   * Each item answers like a single call: its rows (pages past the first are fetched from its nextLink), or its
   * error, classified as `invoke` classifies it. Throttled and failed (429/5xx) items are sent again, honouring
   * Retry-After, until the retry deadline. Results come back in the order of `calls`.
   */
  async invokeMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    const results: Array<unknown[] | ExchangeError | undefined> = new Array(calls.length);
    const indexes = calls.map((_, i) => i);
    const chunks: number[][] = [];
    for (let i = 0; i < indexes.length; i += EXO_BATCH_LIMIT) chunks.push(indexes.slice(i, i + EXO_BATCH_LIMIT));
    await inParallel(chunks, BATCH_CONCURRENCY, (chunk) => this.runChunk(calls, chunk, results));
    return results as Array<unknown[] | ExchangeError>;
  }

  /** One call on its own, its error as a value. */
  private async single(call: ExchangeCall): Promise<unknown[] | ExchangeError> {
    try {
      return await this.invoke(call.cmdlet, call.parameters);
    } catch (err) {
      if (err instanceof ExchangeError) return err;
      throw err;
    }
  }

  private async runChunk(
    calls: ExchangeCall[],
    chunk: number[],
    results: Array<unknown[] | ExchangeError | undefined>,
  ): Promise<void> {
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    let pending = chunk;
    const bodies = new Map(
      chunk.map((i) => [i, { CmdletInput: { CmdletName: calls[i]!.cmdlet, Parameters: calls[i]!.parameters ?? {} } }]),
    );
    while (pending.length > 0) {
      // A batch of one is one request either way: send it as itself (simpler answers, and its own retries).
      if (pending.length === 1 || this.batchUnsupported) {
        for (const i of pending) results[i] = await this.single(calls[i]!);
        return;
      }
      let r: Reply;
      try {
        const token = await this.token();
        const body = JSON.stringify({
          requests: pending.map((i) => ({
            id: String(i),
            method: 'POST',
            url: this.invokeUrl,
            headers: this.callHeaders(token, calls[i]!.cmdlet),
            body: bodies.get(i),
          })),
        });
        r = await this.send(
          `${this.o.adminUrl}/${this.o.tenantId}/$batch`,
          {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Prefer: 'odata.continue-on-error',
            'X-AnchorMailbox': this.anchor,
          },
          body,
        );
      } catch (err) {
        if (this.o.signal?.aborted) throw this.o.signal.reason;
        if (isSignInError(err)) throw err;
        if (err instanceof ExchangeError) {
          for (const i of pending) results[i] = err;
          return;
        }
        if (Date.now() + delay > deadline) {
          const message = `no answer from Exchange: ${(err as Error).message}`;
          for (const i of pending) results[i] = new ExchangeError(calls[i]!.cmdlet, 'transient', message);
          return;
        }
        this.o.onRetry?.(`$batch of ${pending.length} cmdlets: no answer (${(err as Error).message})`, delay);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      const responses = (r.json as { responses?: unknown } | undefined)?.responses;
      if (r.status === 429 || r.status >= 500) {
        // The whole batch was refused: send it again.
        const wait = r.retryAfter ? r.retryAfter * 1000 : delay;
        if (Date.now() + wait > deadline) {
          for (const i of pending) results[i] = this.failure(calls[i]!.cmdlet, r.status, r.json);
          return;
        }
        this.o.onRetry?.(`$batch of ${pending.length} cmdlets: Exchange answered ${r.status}`, wait);
        await this.sleep(wait);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      if (r.status === 401 || r.status === 403) {
        // The operator may not call the admin API at all: every call would fail the same way.
        for (const i of pending) results[i] = this.failure(calls[i]!.cmdlet, r.status, r.json);
        return;
      }
      if (r.status >= 400 || !Array.isArray(responses)) {
        // This endpoint does not take batches (another cloud, a proxy): go one by one from now on.
        this.batchUnsupported = true;
        continue;
      }
      const byId = new Map<string, BatchResponseItem>();
      for (const item of responses as BatchResponseItem[])
        if (item && item.id !== undefined) byId.set(String(item.id), item);
      const again: number[] = [];
      const refused = new Map<number, { status: number; body: unknown }>();
      let wait = 0;
      await Promise.all(
        pending.map(async (i) => {
          const call = calls[i]!;
          const item = byId.get(String(i));
          const status = typeof item?.status === 'number' ? item.status : 0;
          if (!item || status === 0 || status === 429 || status >= 500) {
            // Not answered (the service stopped early), throttled or unavailable: send it again.
            again.push(i);
            if (item && status !== 0) refused.set(i, { status, body: item.body });
            wait = Math.max(wait, (retryAfterOf(item?.headers) ?? 0) * 1000);
            return;
          }
          if (status >= 400) {
            results[i] = this.failure(call.cmdlet, status, item.body);
            return;
          }
          const page = item.body as { value?: unknown[]; '@odata.nextLink'?: string } | undefined;
          const rows = [...(page?.value ?? [])];
          const next = page?.['@odata.nextLink'];
          try {
            results[i] = next ? await this.pages(call.cmdlet, JSON.stringify(bodies.get(i)), next, rows) : rows;
          } catch (err) {
            if (!(err instanceof ExchangeError)) throw err;
            results[i] = err;
          }
        }),
      );
      pending = again.sort((x, y) => x - y);
      if (pending.length === 0) return;
      const pause = Math.max(wait, delay);
      if (Date.now() + pause > deadline) {
        for (const i of pending) {
          const last = refused.get(i);
          results[i] = last
            ? this.failure(calls[i]!.cmdlet, last.status, last.body)
            : new ExchangeError(calls[i]!.cmdlet, 'transient', 'Exchange did not answer this call of a $batch');
        }
        return;
      }
      this.o.onRetry?.(`${pending.length} of the batched cmdlets were not run (throttled or unavailable)`, pause);
      await this.sleep(pause);
      delay = Math.min(delay * 2, 16_000);
    }
  }

  async close(): Promise<void> {}
}
