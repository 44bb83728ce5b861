/**
 * JSON batching: `POST /v1.0/$batch` with up to 20 requests (relative urls, headers, body, dependsOn). The outer
 * answer is 200 when the batch parses; each item has its own status. Items are counted, throttled and faulted one by
 * one as the real service does.
 *
 * Request log: the listener logs the envelope once (path `/v1.0/$batch`, never a write). Each item gets its own entry
 * with its method, write flag, status, tenant and caller, and the path of its target with `#item` appended
 * (`/v1.0/applications#item`), so that tests can count both: requests on the wire are the entries that are not items
 * (`!isGraphBatchItem(e)`), writes are the entries with `write`.
 */
import { randomUUID } from 'node:crypto';
import { ODATA_JSON } from './call.js';
import { GraphFailure, type GraphResult, badJson, errorBody } from './errors.js';
import { type CallInit, executeGraphCall } from './router.js';

const MAX_REQUESTS = 20;

/** Marks the request-log entries of batch items (appended to the item's path), as the Exchange service does. */
export const GRAPH_BATCH_ITEM_MARK = '#item';

/** Whether a request-log entry is one item of a Graph `$batch` (not a request on the wire of its own). */
export function isGraphBatchItem(entry: { service: string; path: string }): boolean {
  return entry.service === 'graph' && entry.path.endsWith(GRAPH_BATCH_ITEM_MARK);
}
const METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
const WRITES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  hasBody: boolean;
  dependsOn: string[];
}

function invalidFormat(): GraphFailure {
  return new GraphFailure(400, 'BadRequest', 'Invalid batch payload format.');
}

function parseItems(data: Buffer): BatchItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    throw badJson();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidFormat();
  const requests = (parsed as { requests?: unknown }).requests;
  if (!Array.isArray(requests) || requests.length === 0) throw invalidFormat();
  if (requests.length > MAX_REQUESTS)
    throw new GraphFailure(400, 'BadRequest', 'Number of requests inside batch exceed the limit.');
  const items: BatchItem[] = [];
  const ids = new Set<string>();
  for (const r of requests) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalidFormat();
    const o = r as Record<string, unknown>;
    const id = typeof o.id === 'number' ? String(o.id) : o.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw invalidFormat();
    if (typeof o.method !== 'string' || !METHODS.has(o.method.toUpperCase())) throw invalidFormat();
    if (typeof o.url !== 'string' || o.url.length === 0 || /^[a-z][a-z0-9+.-]*:/i.test(o.url)) throw invalidFormat();
    const headers: Record<string, string> = {};
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== 'object' || Array.isArray(o.headers)) throw invalidFormat();
      for (const [k, v] of Object.entries(o.headers as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'number') throw invalidFormat();
        headers[k.toLowerCase()] = String(v);
      }
    }
    let dependsOn: string[] = [];
    if (o.dependsOn !== undefined && o.dependsOn !== null) {
      if (!Array.isArray(o.dependsOn) || !o.dependsOn.every((d) => typeof d === 'string')) throw invalidFormat();
      dependsOn = o.dependsOn as string[];
    }
    const key = id.toLowerCase();
    if (ids.has(key)) throw new GraphFailure(400, 'BadRequest', `Request Id ${id} has to be unique in a batch.`);
    ids.add(key);
    const method = o.method.toUpperCase();
    const hasBody = o.body !== undefined && o.body !== null;
    if (hasBody && !headers['content-type'])
      throw new GraphFailure(
        400,
        'BadRequest',
        `Write request id : ${id} does not contain Content-Type header or body.`,
      );
    items.push({ id, method, url: o.url, headers, body: o.body, hasBody, dependsOn });
  }
  for (const item of items)
    for (const d of item.dependsOn)
      if (!ids.has(d.toLowerCase()) || d.toLowerCase() === item.id.toLowerCase()) throw invalidFormat();
  return items;
}

/** Items in an order that runs every dependency first (request order otherwise); a cycle is a malformed batch. */
function executionOrder(items: BatchItem[]): BatchItem[] {
  const done = new Set<string>();
  const order: BatchItem[] = [];
  let pending = items;
  while (pending.length > 0) {
    const ready = pending.filter((i) => i.dependsOn.every((d) => done.has(d.toLowerCase())));
    if (ready.length === 0) throw invalidFormat();
    const first = ready[0]!;
    order.push(first);
    done.add(first.id.toLowerCase());
    pending = pending.filter((i) => i !== first);
  }
  return order;
}

function itemBody(item: BatchItem): CallInit['body'] {
  if (!item.hasBody) return { kind: 'none' };
  if (typeof item.body === 'string') {
    // A string body is base64 (for non-JSON payloads); JSON sent that way is decoded here.
    return { kind: 'raw', data: Buffer.from(item.body, 'base64') };
  }
  return { kind: 'json', value: item.body };
}

function itemHeaders(result: GraphResult): Record<string, string> {
  const h = result.headers ?? {};
  return Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'Content-Length'));
}

export interface BatchEnvironment {
  base: Omit<CallInit, 'method' | 'rawPath' | 'query' | 'headers' | 'body' | 'requestId' | 'clientRequestId'>;
  clientRequestId: string;
  data: Buffer;
}

/** Runs a JSON batch. Throws GraphFailure for a malformed batch (the outer 400). */
export function runBatch(env: BatchEnvironment): GraphResult {
  const { ctx, caller } = env.base;
  const { store } = ctx;
  const requested = parseItems(env.data);
  const items = executionOrder(requested);
  const statuses = new Map<string, number>();
  const answers = new Map<BatchItem, Record<string, unknown>>();
  for (const item of items) {
    const started = performance.now();
    const requestId = randomUUID();
    const ids = { requestId, clientRequestId: item.headers['client-request-id'] ?? env.clientRequestId };
    const q = item.url.indexOf('?');
    const pathPart = q >= 0 ? item.url.slice(0, q) : item.url;
    const rawPath = pathPart.startsWith('/') ? pathPart : `/${pathPart}`;
    let result: GraphResult;
    const n = store.countCall('graph');
    const knobs = store.knobs;
    const fault = knobs.faults.find((f) => f.service === 'graph' && f.call === n);
    const throttle = knobs.throttle;
    if (fault) {
      knobs.faults = knobs.faults.filter((f) => f !== fault);
      result = {
        status: 503,
        headers: { 'Content-Type': 'application/json' },
        body: errorBody('serviceNotAvailable', 'The service is temporarily unavailable.', ids),
      };
    } else if (throttle.every > 0 && throttle.services.includes('graph') && n % throttle.every === 0) {
      result = {
        status: 429,
        headers: { 'Content-Type': 'application/json', 'Retry-After': String(throttle.retryAfterSeconds) },
        body: errorBody('TooManyRequests', 'Too many requests.', ids),
      };
    } else if (item.dependsOn.some((d) => (statuses.get(d.toLowerCase()) ?? 424) >= 400)) {
      result = {
        status: 424,
        headers: { 'Content-Type': 'application/json' },
        body: errorBody('FailedDependency', 'The request failed because a request it depends on failed.', ids),
      };
    } else {
      try {
        result = executeGraphCall({
          ...env.base,
          method: item.method,
          rawPath,
          query: new URLSearchParams(q >= 0 ? item.url.slice(q + 1) : ''),
          headers: item.headers,
          body: itemBody(item),
          requestId,
          clientRequestId: ids.clientRequestId,
        });
      } catch {
        // An emulator bug in one item must not take the other items down with it.
        result = {
          status: 500,
          headers: { 'Content-Type': 'application/json' },
          body: errorBody('generalException', 'An unspecified error has occurred.', ids),
        };
      }
    }
    statuses.set(item.id.toLowerCase(), result.status);
    let logPath = rawPath;
    try {
      logPath = decodeURIComponent(rawPath);
    } catch {
      // keep it encoded
    }
    store.record({
      service: 'graph',
      method: item.method,
      path: `/v1.0${logPath}${GRAPH_BATCH_ITEM_MARK}`,
      status: result.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      write: WRITES.has(item.method),
      tenantId: caller.tenant.id,
      caller: caller.kind === 'app' ? caller.appId : String(caller.claims.upn ?? caller.objectId),
    });
    answers.set(item, {
      id: item.id,
      status: result.status,
      headers: itemHeaders(result),
      ...(result.body !== undefined ? { body: result.body } : {}),
    });
  }
  const responses = requested.map((i) => answers.get(i)!);
  return { status: 200, headers: { 'Content-Type': ODATA_JSON, 'OData-Version': '4.0' }, body: { responses } };
}
