/**
 * The REST backend: `POST {exchangeAdminUrl}/{tenant}/InvokeCommand` with `{"CmdletInput":{"CmdletName",
 * "Parameters"}}`, the endpoint the ExchangeOnlineManagement module itself uses (m365-facts §5). Pages are
 * followed by re-POSTing the same body to `@odata.nextLink`.
 */
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import { ExchangeError, type CmdletParameters, type ExchangeBackend, type ExchangeErrorKind } from './backend.js';

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

export function classifyExchangeError(status: number, body: ExoErrorBody | undefined, message: string): ExchangeErrorKind {
  const text = `${JSON.stringify(body?.error ?? {})} ${message}`;
  if (status === 429) return 'throttled';
  if (status === 401 || status === 403 || /AccessDenied|not have (enough )?permission|UnauthorizedAccess/i.test(text)) return 'access-denied';
  if (status >= 500) return 'transient';
  if (/ManagementObjectNotFound|couldn't be found|could not be found|not found/i.test(text)) return 'not-found';
  if (/AlreadyExists|already exists|already has/i.test(text)) return 'already-exists';
  if (/ParameterBinding|CommandNotFound|is not recognized|cannot be found that matches parameter|ValidationException|Cannot process argument|cannot convert|InvalidOperation/i.test(text))
    return 'invalid-input';
  return 'unknown';
}

export class RestExchangeBackend implements ExchangeBackend {
  readonly name = 'rest' as const;
  requestCount = 0;
  constructor(private readonly o: RestBackendOptions) {}

  private async token(): Promise<string> {
    const t = await this.o.credential.getToken(this.o.scope, { tenantId: this.o.tenantId, abortSignal: this.o.signal });
    if (!t) throw new ExchangeError('connect', 'access-denied', 'the operator credential returned no Exchange token');
    return t.token;
  }

  private sleep(ms: number): Promise<void> {
    if (this.o.sleep) return this.o.sleep(ms, this.o.signal);
    return new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      this.o.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(this.o.signal!.reason);
      }, { once: true });
    });
  }

  private async post(url: string, cmdlet: string, body: string): Promise<{ status: number; json: unknown; retryAfter?: number }> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 120_000);
    const signal = this.o.signal ? AbortSignal.any([this.o.signal, timeout]) : timeout;
    this.requestCount += 1;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await this.token()}`,
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Prefer: 'odata.maxpagesize=1000',
        'X-CmdletName': cmdlet,
        'X-ResponseFormat': 'json',
        'X-ClientApplication': 'ExoManagementModule',
        'X-AnchorMailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${this.o.tenantId}`,
      },
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

  async invoke<T = Record<string, unknown>>(cmdlet: string, parameters: CmdletParameters = {}): Promise<T[]> {
    const body = JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } });
    let url: string | undefined = `${this.o.adminUrl}/${this.o.tenantId}/InvokeCommand`;
    const out: T[] = [];
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    while (url) {
      let r: { status: number; json: unknown; retryAfter?: number };
      try {
        r = await this.post(url, cmdlet, body);
      } catch (err) {
        if (this.o.signal?.aborted) throw this.o.signal.reason;
        if (Date.now() + delay > deadline) throw new ExchangeError(cmdlet, 'transient', `no answer from Exchange: ${(err as Error).message}`);
        this.o.onRetry?.(`${cmdlet}: no answer (${(err as Error).message})`, delay);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      if (r.status === 429 || r.status >= 500) {
        const wait = r.retryAfter ? r.retryAfter * 1000 : delay;
        if (Date.now() + wait > deadline) {
          throw new ExchangeError(cmdlet, r.status === 429 ? 'throttled' : 'transient', exchangeErrorMessage(r.json as ExoErrorBody, `HTTP ${r.status}`), r.status);
        }
        this.o.onRetry?.(`${cmdlet}: Exchange answered ${r.status}`, wait);
        await this.sleep(wait);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      if (r.status >= 400) {
        const message = exchangeErrorMessage(r.json as ExoErrorBody, `HTTP ${r.status}`);
        throw new ExchangeError(cmdlet, classifyExchangeError(r.status, r.json as ExoErrorBody, message), message, r.status);
      }
      const page = r.json as { value?: T[]; '@odata.nextLink'?: string } | undefined;
      out.push(...(page?.value ?? []));
      url = page?.['@odata.nextLink'];
      delay = 1000;
    }
    return out;
  }

  async close(): Promise<void> {}
}
