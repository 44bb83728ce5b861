/**
 * The REST backend: `POST {exchangeAdminUrl}/{tenant}/InvokeCommand` with `{"CmdletInput":{"CmdletName",
 * "Parameters"}}`, the endpoint the ExchangeOnlineManagement module itself uses (m365-facts §5). Pages are
 * followed by re-POSTing the same body to `@odata.nextLink`. Independent calls can share one request through
 * `POST {exchangeAdminUrl}/{tenant}/$batch` (`invokeMany`). Every request is bounded by the response timeout
 * (`--timeout`); no answer, 429 and 5xx are retried through the poller (Retry-After honoured) until the deadline;
 * every cmdlet, batched or not, is reported once per request as a RequestEvent.
 */
import { ServiceUnreachableError, retryOptions, sendBounded, type NetworkBounds } from '../auth/index.js';
import { inParallel, parseRetryAfter, poll, PollTimeoutError, retry } from '../poll/index.js';
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import {
  ExchangeError,
  type CmdletParameters,
  type ExchangeBackend,
  type ExchangeCall,
  type ExchangeErrorKind,
} from './backend.js';

export interface RestBackendOptions extends NetworkBounds {
  credential: TokenCredential;
  /** e.g. https://outlook.office365.com/adminapi/beta */
  adminUrl: string;
  scope: string;
  /** Tenant id (GUID) of the organization. */
  tenantId: string;
  dispatcher: Agent;
  /** Sleep between retries; injectable for tests. */
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
/**
 * Batches of one tenant in flight at once (a large mailbox list makes several): 5 × EXO_BATCH_LIMIT = 50 calls, the
 * operations Exchange lets one user run at once (EXO_MAX_IN_FLIGHT below).
 */
const BATCH_CONCURRENCY = 5;
/**
 * Requests of one tenant run in flight at once (per-mailbox writes — Add-MailboxPermission, Set-CASMailbox — are
 * one request each). Exchange Online throttles PowerShell per user by operations running at once: the default
 * throttling policy's PowerShellMaxCmdletQueueDepth is 50 ("the number of operations that a user can run
 * simultaneously"; PowerShellMaxDestructiveCmdlets 120 writes per 60 s beside it — Quadrotech, "Exchange Online
 * PowerShell Throttling in Office 365"; New-ThrottlingPolicy on learn.microsoft.com names the same parameters). The
 * REST endpoint's own limits are not published; past this width Exchange answers 429 with Retry-After, which
 * `sendRetrying` honours.
 */
export const EXO_MAX_IN_FLIGHT = 50;
/**
 * The places one cmdlet may hold of those (a per-mailbox burst of Set-CASMailbox), so that the run's other calls —
 * New-ServicePrincipal, New-ManagementScope, the ones the next steps wait for — never queue behind it.
 */
const EXO_MAX_IN_FLIGHT_PER_CMDLET = EXO_MAX_IN_FLIGHT - 2;

interface Reply {
  status: number;
  json: unknown;
  retryAfterMs?: number;
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
  const v = key === undefined ? undefined : headers[key];
  return parseRetryAfter(v === undefined || v === null ? undefined : String(v));
}

/** A 429 or 5xx answer to a whole request, carried through the poller (the last one is handed back as it came). */
class RefusedReply extends Error {
  constructor(readonly reply: Reply) {
    super(`Exchange answered ${reply.status}`);
  }
}

export class RestExchangeBackend implements ExchangeBackend {
  readonly name = 'rest' as const;
  requestCount = 0;
  /** Set when the service refused `$batch` itself: every later call goes one by one. */
  private batchUnsupported = false;
  /** Requests on the wire now (all, and per cmdlet), and those waiting for a place. */
  private inFlight = 0;
  private readonly perCmdlet = new Map<string, number>();
  private readonly waiting: Array<{ what: string; go: () => void }> = [];
  constructor(private readonly o: RestBackendOptions) {}

  private fits(what: string): boolean {
    return this.inFlight < EXO_MAX_IN_FLIGHT && (this.perCmdlet.get(what) ?? 0) < EXO_MAX_IN_FLIGHT_PER_CMDLET;
  }

  private take(what: string): void {
    this.inFlight += 1;
    this.perCmdlet.set(what, (this.perCmdlet.get(what) ?? 0) + 1);
  }

  private async place(what: string): Promise<void> {
    // Whoever still waits does not fit (leave() lets in all that do), so one that fits goes now.
    if (this.fits(what)) return this.take(what);
    await new Promise<void>((go) => this.waiting.push({ what, go }));
  }

  private leave(what: string): void {
    this.inFlight -= 1;
    this.perCmdlet.set(what, this.perCmdlet.get(what)! - 1);
    // The first waiting requests that fit now, in the order they came.
    for (let i = 0; i < this.waiting.length && this.inFlight < EXO_MAX_IN_FLIGHT;) {
      const w = this.waiting[i]!;
      if (!this.fits(w.what)) {
        i += 1;
        continue;
      }
      this.waiting.splice(i, 1);
      this.take(w.what);
      w.go();
    }
  }

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

  /**
   * One POST on the wire. `report` hears its outcome (status, or "timeout" / the network's code) and its time. No
   * answer throws ServiceUnreachableError: 'timeout' (final) or 'network' (worth another try).
   */
  private async send(
    url: string,
    headers: Record<string, string>,
    body: string,
    what: string,
    report: (status: number | string, ms: number) => void,
  ): Promise<Reply> {
    this.requestCount += 1;
    await this.place(what);
    let r: Awaited<ReturnType<typeof sendBounded>>;
    try {
      r = await sendBounded(
        url,
        { method: 'POST', headers, body },
        {
          service: 'exchange',
          where: this.o.adminUrl,
          what,
          dispatcher: this.o.dispatcher,
          timeoutMs: this.o.timeoutMs,
          signal: this.o.signal,
          report,
        },
      );
    } finally {
      this.leave(what);
    }
    let json: unknown;
    try {
      json = r.text ? JSON.parse(r.text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, json, retryAfterMs: r.retryAfterMs };
  }

  /**
   * One request, retried through the poller while it gets no answer or a 429/5xx. A timeout is final. What is
   * left after the deadline: the last 429/5xx reply as it came, or an ExchangeError ('transient') naming the service.
   */
  private async sendRetrying(what: string, cmdlets: string[], attempt: () => Promise<Reply>): Promise<Reply> {
    try {
      return await retry(
        async () => {
          const r = await attempt();
          if (r.status === 429 || r.status >= 500) throw new RefusedReply(r);
          return r;
        },
        (err) => {
          if (err instanceof RefusedReply) return { retryAfterMs: err.reply.retryAfterMs };
          return err instanceof ServiceUnreachableError && err.reason === 'network';
        },
        retryOptions(what, this.o),
      );
    } catch (err) {
      if (err instanceof RefusedReply) return err.reply;
      if (err instanceof ServiceUnreachableError && err.service === 'exchange')
        throw new ExchangeError(cmdlets.length === 1 ? cmdlets[0]! : what, 'transient', err.message);
      throw err;
    }
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

  /** Posts `body` to `url` and follows `@odata.nextLink` (re-POSTing the same body), each page retried alone. */
  private async pages<T>(cmdlet: string, body: string, first: string, out: T[]): Promise<T[]> {
    const report = (status: number | string, ms: number): void =>
      this.o.onRequest?.({ service: 'exchange', method: 'POST', target: cmdlet, status, ms });
    for (let url: string | undefined = first; url;) {
      const pageUrl: string = url;
      const r = await this.sendRetrying(cmdlet, [cmdlet], async () =>
        this.send(pageUrl, this.callHeaders(await this.token(), cmdlet), body, cmdlet, report),
      );
      if (r.status >= 400) throw this.failure(cmdlet, r.status, r.json);
      const page = r.json as { value?: T[]; '@odata.nextLink'?: string } | undefined;
      out.push(...(page?.value ?? []));
      url = page?.['@odata.nextLink'];
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

  /** Sends the `pending` calls as one `$batch`; each item is reported as its cmdlet. */
  private async sendBatch(
    calls: ExchangeCall[],
    pending: number[],
    bodies: Map<number, unknown>,
  ): Promise<{ reply: Reply; ms: number }> {
    const what = `$batch of ${pending.length} cmdlets`;
    let ms = 0;
    const reply = await this.sendRetrying(
      what,
      pending.map((i) => calls[i]!.cmdlet),
      async () => {
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
        return this.send(
          `${this.o.adminUrl}/${this.o.tenantId}/$batch`,
          {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Prefer: 'odata.continue-on-error',
            'X-AnchorMailbox': this.anchor,
          },
          body,
          what,
          (status, took) => {
            ms = took;
            // Without an answer, or refused as a whole: every cmdlet of the batch met the same fate.
            if (typeof status !== 'number' || status === 429 || status >= 400)
              this.reportItems(calls, pending, status, took);
          },
        );
      },
    );
    return { reply, ms };
  }

  private reportItems(calls: ExchangeCall[], items: number[], status: number | string, ms: number): void {
    for (const i of items)
      this.o.onRequest?.({ service: 'exchange', method: 'POST', target: calls[i]!.cmdlet, status, ms, batched: true });
  }

  private async runChunk(
    calls: ExchangeCall[],
    chunk: number[],
    results: Array<unknown[] | ExchangeError | undefined>,
  ): Promise<void> {
    let pending = chunk;
    const refused = new Map<number, { status: number; body: unknown }>();
    const bodies = new Map<number, unknown>(
      chunk.map((i) => [i, { CmdletInput: { CmdletName: calls[i]!.cmdlet, Parameters: calls[i]!.parameters ?? {} } }]),
    );
    const each = (f: (i: number) => unknown[] | ExchangeError): void => {
      for (const i of pending) results[i] = f(i);
    };
    try {
      await poll<void>(
        async () => {
          // A batch of one is one request either way: send it as itself (simpler answers, and its own retries).
          if (pending.length === 1 || this.batchUnsupported) {
            for (const i of pending) results[i] = await this.single(calls[i]!);
            return { done: true, value: undefined };
          }
          let sent: { reply: Reply; ms: number };
          try {
            sent = await this.sendBatch(calls, pending, bodies);
          } catch (err) {
            // No answer within the timeout or the deadline: every call of the batch fails the same way.
            if (!(err instanceof ExchangeError)) throw err;
            each((i) => new ExchangeError(calls[i]!.cmdlet, err.kind, err.exchangeMessage, err.status));
            return { done: true, value: undefined };
          }
          const r = sent.reply;
          const responses = (r.json as { responses?: unknown } | undefined)?.responses;
          if (r.status === 429 || r.status >= 500 || r.status === 401 || r.status === 403) {
            // Refused as a whole after the retries, or the operator may not call the admin API at all.
            each((i) => this.failure(calls[i]!.cmdlet, r.status, r.json));
            return { done: true, value: undefined };
          }
          if (r.status >= 400 || !Array.isArray(responses)) {
            // This endpoint does not take batches (another cloud, a proxy): go one by one from now on.
            this.batchUnsupported = true;
            for (const i of pending) results[i] = await this.single(calls[i]!);
            return { done: true, value: undefined };
          }
          const byId = new Map<string, BatchResponseItem>();
          for (const item of responses as BatchResponseItem[])
            if (item && item.id !== undefined) byId.set(String(item.id), item);
          const again: number[] = [];
          let wait = 0;
          await Promise.all(
            pending.map(async (i) => {
              const call = calls[i]!;
              const item = byId.get(String(i));
              const status = typeof item?.status === 'number' ? item.status : 0;
              this.reportItems(calls, [i], status || 'not run', sent.ms);
              if (!item || status === 0 || status === 429 || status >= 500) {
                // Not answered (the service stopped early), throttled or unavailable: send it again.
                again.push(i);
                if (item && status !== 0) refused.set(i, { status, body: item.body });
                wait = Math.max(wait, retryAfterOf(item?.headers) ?? 0);
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
          if (pending.length === 0) return { done: true, value: undefined };
          return {
            done: false,
            reason: `${pending.length} of the batched cmdlets were not run (throttled or unavailable)`,
            retryAfterMs: wait || undefined,
          };
        },
        retryOptions('$batch', this.o),
      );
    } catch (err) {
      if (!(err instanceof PollTimeoutError)) throw err;
      each((i) => {
        const last = refused.get(i);
        return last
          ? this.failure(calls[i]!.cmdlet, last.status, last.body)
          : new ExchangeError(calls[i]!.cmdlet, 'transient', 'Exchange did not answer this call of a $batch');
      });
    }
  }

  async close(): Promise<void> {}
}
