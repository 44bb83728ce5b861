/**
 * `POST /adminapi/{beta|v1.0}/{tenant}/$batch`: several InvokeCommand calls in one HTTP request, as CIPP's
 * New-ExoBulkRequest.ps1 sends them (m365-facts §5):
 *
 *   {"requests":[{"id":"…","method":"POST","url":"https://outlook.office365.com/adminapi/beta/{tenant}/InvokeCommand",
 *                 "headers":{"Authorization":"Bearer …","Prefer":"odata.maxpagesize=1000",…},
 *                 "body":{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{…}}}}]}
 *   → 200 {"responses":[{"id":"…","status":200,"headers":{…},"body":{"value":[…],…}}]}
 *
 * - At most MAX_BATCH_REQUESTS items (CIPP splits its work into batches of 10; the service's own limit is not
 *   documented anywhere we could find, so the emulator enforces the size every known client keeps to).
 * - Each item is authorized and run exactly like a single InvokeCommand: its own Authorization header (or the
 *   envelope's when it has none), its own `Prefer: odata.maxpagesize`, `$select` in its url, the same answers and
 *   errors; a page that does not hold everything carries an `@odata.nextLink` the client re-POSTs directly (not in a
 *   batch).
 * - `Prefer: odata.continue-on-error` on the envelope runs every item whatever the others answer (and is echoed in
 *   Preference-Applied); without it, processing stops after the first item that fails and later items get no
 *   response (OData JSON batch semantics).
 * - Items are counted, throttled and faulted one by one like single calls (the realism knobs), on top of the
 *   envelope, which the HTTP listener counts, throttles and faults as one call.
 *
 * Request log: the listener logs the envelope once (path `…/$batch`, no cmdlet, never a write). Each item gets its
 * own entry with its cmdlet, write flag, tenant, caller and status, and the path `…/$batch#item`, so that tests can
 * count both: requests on the wire are the entries that are not items (`!isExchangeBatchItem(e)`), cmdlets run are the
 * entries with a cmdlet.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import { EXCHANGE_ERROR_KINDS, ExchangeError, malformed } from './errors.js';
import { JSON_TYPE, errorResponse, respond, simpleError } from './wire.js';

/** The most InvokeCommand calls one `$batch` may carry. */
export const MAX_BATCH_REQUESTS = 10;

/** Marks the request-log entries of batch items (appended to the batch's path). */
export const BATCH_ITEM_MARK = '#item';

export const BATCH_RE = /^\/adminapi\/(beta|v1\.0)\/([^/]+)\/\$batch$/i;
const INVOKE_PATH_RE = /^\/adminapi\/(beta|v1\.0)\/([^/]+)\/InvokeCommand$/i;

/** Whether a request-log entry is one item of an Exchange `$batch` (a cmdlet run, not a request on the wire). */
export function isExchangeBatchItem(entry: { service: string; path: string }): boolean {
  return entry.service === 'exchange' && entry.path.endsWith(BATCH_ITEM_MARK);
}

/** What the batch needs from the InvokeCommand handler (index.ts), passed in to keep the modules acyclic. */
export interface BatchHandlers {
  /** Authenticates the envelope and resolves its organization, or answers as InvokeCommand would. */
  admit(req: EmulatorRequest, segment: string): { tenant: { id: string } } | EmulatorResponse;
  /** Runs one InvokeCommand request. */
  invoke(req: EmulatorRequest, version: string, segment: string): EmulatorResponse;
  /** The service's answer for a throttled (429) or unavailable (503) call. */
  failure(req: EmulatorRequest, status: 429 | 503, retryAfterSeconds?: number): EmulatorResponse;
  /** What an InvokeCommand body asks for, for the log of an item that was refused before it ran. */
  describe(body: Buffer): { cmdlet?: string; write: boolean };
}

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

function parseItems(body: Buffer): BatchItem[] {
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw malformed('The batch request body is not valid JSON. Send {"requests":[{"id","method","url","body"}]}.');
  }
  const requests =
    typeof data === 'object' && data !== null && !Array.isArray(data)
      ? (data as { requests?: unknown }).requests
      : undefined;
  if (!Array.isArray(requests) || requests.length === 0)
    throw malformed('The batch request body has no "requests" array, or it is empty.');
  if (requests.length > MAX_BATCH_REQUESTS)
    throw malformed(
      `The batch request contains ${requests.length} requests; at most ${MAX_BATCH_REQUESTS} are allowed in one batch.`,
    );
  const ids = new Set<string>();
  return requests.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw malformed(`Request ${i + 1} of the batch is not an object.`);
    const o = r as Record<string, unknown>;
    const id = typeof o.id === 'number' ? String(o.id) : o.id;
    if (typeof id !== 'string' || id === '') throw malformed(`Request ${i + 1} of the batch has no id.`);
    if (ids.has(id.toLowerCase())) throw malformed(`The request id '${id}' is used more than once in the batch.`);
    ids.add(id.toLowerCase());
    if (typeof o.method !== 'string' || typeof o.url !== 'string' || o.url === '')
      throw malformed(`Request '${id}' of the batch needs a method and a url.`);
    const headers: Record<string, string> = {};
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== 'object' || Array.isArray(o.headers))
        throw malformed(`The headers of request '${id}' must be an object of names and values.`);
      for (const [k, v] of Object.entries(o.headers as Record<string, unknown>))
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
          headers[k.toLowerCase()] = String(v);
    }
    return { id, method: o.method.toUpperCase(), url: o.url, headers, body: o.body };
  });
}

function bodyBuffer(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Runs one item as the InvokeCommand request it describes; returns its answer and what it logged. */
function runItem(
  ctx: EmulatorContext,
  envelope: EmulatorRequest,
  tenantId: string,
  item: BatchItem,
  h: BatchHandlers,
): { response: EmulatorResponse; log: EmulatorRequest['log'] } {
  const base = `${envelope.baseUrl}${envelope.url.pathname}`;
  let url: URL;
  try {
    url = new URL(item.url, base);
  } catch {
    return { response: errorResponse(malformed(`The url '${item.url}' of a batch request is not valid.`)), log: {} };
  }
  const path = safeDecode(url.pathname);
  const m = INVOKE_PATH_RE.exec(path);
  const req: EmulatorRequest = {
    method: item.method,
    url,
    path,
    // The item's own headers; a missing Authorization is the envelope's.
    headers: { authorization: envelope.headers.authorization, ...item.headers },
    body: bodyBuffer(item.body),
    requestId: envelope.requestId,
    baseUrl: envelope.baseUrl,
    log: { write: false },
  };
  if (!m)
    return {
      response: errorResponse(
        malformed(`Only InvokeCommand requests can be batched; '${path}' is not one (use …/{tenant}/InvokeCommand).`),
      ),
      log: req.log,
    };
  if (item.method !== 'POST')
    return {
      response: simpleError(
        { ...EXCHANGE_ERROR_KINDS.malformedRequest, status: 405, code: 'MethodNotAllowed' },
        `The HTTP method '${item.method}' is not allowed on InvokeCommand; use POST.`,
      ),
      log: req.log,
    };
  const itemTenant = ctx.store.findTenant(m[2]!);
  if (itemTenant && itemTenant.id !== tenantId)
    return {
      response: errorResponse(
        malformed(`A batch for organization '${tenantId}' cannot run a request for organization '${m[2]}'.`),
      ),
      log: req.log,
    };
  return { response: h.invoke(req, m[1]!.toLowerCase(), m[2]!), log: req.log };
}

export function handleBatch(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  segment: string,
  h: BatchHandlers,
): EmulatorResponse {
  // The envelope is not a write of its own, and runs no cmdlet: its items are logged one by one.
  req.log.write = false;
  if (req.method !== 'POST')
    return {
      ...simpleError(
        { ...EXCHANGE_ERROR_KINDS.malformedRequest, status: 405, code: 'MethodNotAllowed' },
        `The HTTP method '${req.method}' is not allowed on $batch; use POST.`,
      ),
      headers: { 'Content-Type': JSON_TYPE, Allow: 'POST' },
    };
  const admitted = h.admit(req, segment);
  if (!('tenant' in admitted)) return admitted;
  const tenantId = admitted.tenant.id;

  let items: BatchItem[];
  try {
    items = parseItems(req.body);
  } catch (e) {
    if (e instanceof ExchangeError) return errorResponse(e);
    throw e;
  }
  const continueOnError = /(^|[;,\s])odata\.continue-on-error(\s*=\s*true)?\s*($|[;,])/i.test(
    String(req.headers.prefer ?? ''),
  );

  const { store } = ctx;
  const responses: Array<Record<string, unknown>> = [];
  for (const item of items) {
    const started = performance.now();
    let response: EmulatorResponse;
    let log: EmulatorRequest['log'] = {};
    const n = store.countCall('exchange');
    const knobs = store.knobs;
    const fault = knobs.faults.find((f) => f.service === 'exchange' && f.call === n);
    const throttle = knobs.throttle;
    if (fault) {
      knobs.faults = knobs.faults.filter((f) => f !== fault);
      response = h.failure(req, 503);
      log = h.describe(bodyBuffer(item.body));
    } else if (throttle.every > 0 && throttle.services.includes('exchange') && n % throttle.every === 0) {
      response = h.failure(req, 429, throttle.retryAfterSeconds);
      response.headers = { ...(response.headers ?? {}), 'Retry-After': String(throttle.retryAfterSeconds) };
      log = h.describe(bodyBuffer(item.body));
    } else {
      ({ response, log } = runItem(ctx, req, tenantId, item, h));
    }
    store.record({
      service: 'exchange',
      method: item.method,
      path: `${req.path}${BATCH_ITEM_MARK}`,
      status: response.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      write: log.write ?? false,
      ...(log.cmdlet ? { cmdlet: log.cmdlet } : {}),
      tenantId: log.tenantId ?? tenantId,
      ...((log.caller ?? req.log.caller) ? { caller: log.caller ?? req.log.caller } : {}),
    });
    responses.push({
      id: item.id,
      status: response.status,
      headers: response.headers ?? {},
      ...(response.body !== undefined ? { body: response.body } : {}),
    });
    if (response.status >= 400 && !continueOnError) break;
  }
  return respond(200, { responses }, continueOnError ? { 'Preference-Applied': 'odata.continue-on-error' } : {});
}
