/**
 * One Graph call as the handlers see it (a direct HTTP request or one item of a JSON batch), and the helpers that
 * build Graph's answers: entities and collections with `@odata.context`, paging links, 204s.
 */
import type { Caller, EmulatorContext } from '../context.js';
import { badJson, emptyPayload, type GraphResult } from './errors.js';
import { serializeEntity, type SerializeOptions } from './model.js';
import { encodeSkipToken, type ListOptions, type Segment } from './odata.js';

export interface GraphCall {
  ctx: EmulatorContext;
  method: string;
  /** Path after `/v1.0`, still percent-encoded (for paging links). */
  rawPath: string;
  segments: Segment[];
  query: URLSearchParams;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  /** The request body: raw bytes (direct request) or an already parsed JSON value (batch item). */
  body: { kind: 'raw'; data: Buffer } | { kind: 'json'; value: unknown } | { kind: 'none' };
  requestId: string;
  clientRequestId: string;
  /** `https://host:port` as the client addressed the emulator. */
  baseUrl: string;
  caller: Caller;
}

export const ODATA_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

const SUCCESS_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-cache',
  'OData-Version': '4.0',
  'Content-Type': ODATA_JSON,
};

export function contextUrl(call: GraphCall, fragment: string): string {
  return `${call.baseUrl}/v1.0/$metadata#${fragment}`;
}

/** `applications(id,displayName)` for a `$select`ed read. */
export function withSelect(entitySet: string, select: ReadonlySet<string> | undefined): string {
  return select ? `${entitySet}(${[...select].join(',')})` : entitySet;
}

export function jsonResult(status: number, body: Record<string, unknown>): GraphResult {
  return { status, headers: { ...SUCCESS_HEADERS }, body };
}

export function noContent(): GraphResult {
  return { status: 204, headers: { 'Cache-Control': 'no-cache' } };
}

/** An entity answer: `@odata.context` first, then the declared properties of its type. */
export function entityResult(
  call: GraphCall,
  status: number,
  fragment: string,
  typeName: string,
  entity: Record<string, unknown>,
  options: SerializeOptions = {},
): GraphResult {
  return jsonResult(status, {
    '@odata.context': contextUrl(call, fragment),
    ...serializeEntity(typeName, entity, options),
  });
}

/** A query string as Graph writes it in links: `$top=1&$skiptoken=…`, `$` and OData punctuation left readable. */
function queryString(q: URLSearchParams): string {
  const enc = (s: string): string =>
    encodeURIComponent(s)
      .replace(/%24/g, '$')
      .replace(/%27/g, "'")
      .replace(/%28/g, '(')
      .replace(/%29/g, ')')
      .replace(/%2C/g, ',');
  return [...q].map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
}

/** A collection answer with `$top` paging (`@odata.nextLink`) and `$count`. */
export function collectionResult<T>(
  call: GraphCall,
  fragment: string,
  items: T[],
  options: ListOptions,
  serialize: (item: T) => Record<string, unknown>,
): GraphResult {
  const page = items.slice(options.skip, options.skip + options.top);
  const body: Record<string, unknown> = { '@odata.context': contextUrl(call, fragment) };
  if (options.count) body['@odata.count'] = items.length;
  if (options.skip + options.top < items.length) {
    const q = new URLSearchParams(call.query);
    q.delete('$skiptoken');
    q.set('$top', String(options.top));
    q.set('$skiptoken', encodeSkipToken(options.skip + options.top));
    body['@odata.nextLink'] = `${call.baseUrl}/v1.0${call.rawPath}?${queryString(q)}`;
  }
  body.value = page.map(serialize);
  return jsonResult(200, body);
}

/** The JSON object body of a write. `required` = a body must be there (PATCH, POST create). */
export function readObjectBody(call: GraphCall, required: boolean): Record<string, unknown> {
  let value: unknown;
  if (call.body.kind === 'json') value = call.body.value;
  else if (call.body.kind === 'none' || call.body.data.length === 0) {
    if (required) throw emptyPayload();
    return {};
  } else {
    const text = call.body.data.toString('utf8');
    if (text.trim().length === 0) {
      if (required) throw emptyPayload();
      return {};
    }
    try {
      value = JSON.parse(text);
    } catch {
      throw badJson();
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badJson();
  return value as Record<string, unknown>;
}

/** Whether the request carries `Prefer: create-if-missing`. */
export function prefersCreate(call: GraphCall): boolean {
  const prefer = call.headers['prefer'];
  if (!prefer) return false;
  return prefer
    .split(/[,;]/)
    .map((s) => s.trim().toLowerCase())
    .includes('create-if-missing');
}

/** Graph's timestamps: ISO 8601 UTC without milliseconds. */
export function graphNow(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
