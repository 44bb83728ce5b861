/**
 * The OData parts of a Graph URL: path segments with keys (`applications/{id}`, `applications(appId='…')`,
 * `applications('{id}')`) and the query options the directory supports here ($filter, $select, $top, $skiptoken,
 * $count), with the errors Graph gives for the rest.
 */
import { GraphFailure, querySyntax } from './errors.js';
import { typeDef } from './model.js';

export type Key = { kind: 'id'; value: string } | { kind: 'alt'; property: string; value: string };

export interface Segment {
  /** The segment name (`applications`, `addPassword`, `microsoft.graph.addPassword`, an id …). */
  name: string;
  key?: Key;
  /** The decoded segment as written (for "Resource not found for the segment" messages). */
  raw: string;
}

const ALTERNATE_KEYS: Record<string, string> = { appid: 'appId', uniquename: 'uniqueName' };

function parseKey(text: string): Key {
  const t = text.trim();
  const quoted = /^'((?:[^']|'')*)'$/s.exec(t);
  if (quoted) return { kind: 'id', value: quoted[1]!.replace(/''/g, "'") };
  const alt = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'((?:[^']|'')*)'$/s.exec(t);
  // Graph matches names case-insensitively; the alternate keys are kept in their canonical spelling.
  if (alt)
    return {
      kind: 'alt',
      property: ALTERNATE_KEYS[alt[1]!.toLowerCase()] ?? alt[1]!,
      value: alt[2]!.replace(/''/g, "'"),
    };
  if (/^[0-9a-fA-F-]{36}$/.test(t)) return { kind: 'id', value: t };
  throw querySyntax();
}

/** Splits the raw (still percent-encoded) path after `/v1.0` into decoded segments with their keys. */
export function parseSegments(rawPath: string): Segment[] {
  const parts = rawPath.split('/').filter((s) => s.length > 0);
  return parts.map((part) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      throw querySyntax();
    }
    const open = decoded.indexOf('(');
    if (open < 0) return { name: decoded, raw: decoded };
    if (!decoded.endsWith(')')) throw querySyntax();
    return { name: decoded.slice(0, open), key: parseKey(decoded.slice(open + 1, -1)), raw: decoded };
  });
}

// ---- $filter ----

type Token =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'string'; v: string; pos: number }
  | { t: 'literal'; v: string; pos: number }
  | { t: 'punct'; v: '(' | ')' | ','; pos: number };

function filterSyntax(text: string, pos: number): GraphFailure {
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new GraphFailure(400, 'BadRequest', `Invalid filter clause: Syntax error at position ${pos} in '${shown}'.`);
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: 'punct', v: c, pos: i });
      i++;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= text.length) throw filterSyntax(text, i);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            v += "'";
            j += 2;
            continue;
          }
          break;
        }
        v += text[j];
        j++;
      }
      out.push({ t: 'string', v, pos: i });
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_.:/-]+/.exec(text.slice(i, i + 200));
    if (!m) throw filterSyntax(text, i);
    const word = m[0];
    if (/^[A-Za-z_][A-Za-z0-9_/]*$/.test(word) && !/^(true|false|null)$/.test(word))
      out.push({ t: 'ident', v: word, pos: i });
    else out.push({ t: 'literal', v: word, pos: i });
    i += word.length;
  }
  return out;
}

export type FilterFields = Record<string, (entity: Record<string, unknown>) => unknown>;
export type Predicate = (entity: Record<string, unknown>) => boolean;

const OPERATOR_NAMES: Record<string, string> = {
  ne: 'NotEqualsMatch',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
  has: 'Has',
};

const FUNCTION_NAMES: Record<string, string> = {
  contains: 'Contains',
  endswith: 'EndsWith',
  substringof: 'SubstringOf',
  tolower: 'ToLower',
  toupper: 'ToUpper',
  length: 'Length',
  any: 'Any',
  all: 'All',
  not: 'Not',
};

function same(a: unknown, b: string | null): boolean {
  if (b === null) return a === null || a === undefined;
  if (typeof a === 'string') return a.toLowerCase() === b.toLowerCase();
  if (typeof a === 'boolean') return String(a) === b;
  return false;
}

/**
 * Parses the `$filter` subset the directory answers for these resources: `prop eq 'v'`, `prop in ('a','b')`,
 * `startswith(prop,'v')`, combined with and/or and parentheses. Other properties or operators get Graph's
 * Request_UnsupportedQuery answers; malformed text its syntax error.
 */
export function parseFilter(text: string, fields: FilterFields, resource: string): Predicate {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const end = (): number => (tokens[i] ? tokens[i]!.pos : text.length);
  const unsupportedProperty = (p: string): GraphFailure =>
    new GraphFailure(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${p}' of resource '${resource}'.`,
    );
  const field = (name: string): ((e: Record<string, unknown>) => unknown) => {
    // Property names in $filter match case-insensitively, as on Graph.
    const known = Object.keys(fields).find((k) => k.toLowerCase() === name.toLowerCase());
    const f = known !== undefined ? fields[known] : undefined;
    if (!f) throw unsupportedProperty(name);
    return f;
  };
  const literal = (): string | null => {
    const tok = tokens[i];
    if (!tok || (tok.t !== 'string' && tok.t !== 'literal')) throw filterSyntax(text, end());
    i++;
    if (tok.t === 'literal' && tok.v === 'null') return null;
    return tok.v;
  };
  const expectPunct = (v: '(' | ')' | ','): void => {
    const tok = tokens[i];
    if (!tok || tok.t !== 'punct' || tok.v !== v) throw filterSyntax(text, end());
    i++;
  };
  const primary = (): Predicate => {
    const tok = peek();
    if (!tok) throw filterSyntax(text, end());
    if (tok.t === 'punct' && tok.v === '(') {
      i++;
      const inner = orExpr();
      expectPunct(')');
      return inner;
    }
    if (tok.t !== 'ident') throw filterSyntax(text, tok.pos);
    i++;
    const next = peek();
    if (next && next.t === 'punct' && next.v === '(') {
      const fn = tok.v.toLowerCase();
      if (fn !== 'startswith') {
        const name = FUNCTION_NAMES[fn];
        if (name)
          throw new GraphFailure(
            400,
            'Request_UnsupportedQuery',
            `Unsupported property filter clause operator '${name}'.`,
          );
        throw filterSyntax(text, tok.pos);
      }
      i++;
      const propTok = peek();
      if (!propTok || propTok.t !== 'ident') throw filterSyntax(text, end());
      i++;
      const get = field(propTok.v);
      expectPunct(',');
      const prefix = literal();
      expectPunct(')');
      if (prefix === null) throw filterSyntax(text, end());
      const p = prefix.toLowerCase();
      return (e) => {
        const v = get(e);
        return typeof v === 'string' && v.toLowerCase().startsWith(p);
      };
    }
    const get = field(tok.v);
    const op = peek();
    if (!op || op.t !== 'ident') throw filterSyntax(text, end());
    i++;
    const opName = op.v.toLowerCase();
    if (opName === 'eq') {
      const value = literal();
      return (e) => same(get(e), value);
    }
    if (opName === 'in') {
      expectPunct('(');
      const values: Array<string | null> = [literal()];
      while (peek()?.t === 'punct' && (peek() as { v: string }).v === ',') {
        i++;
        values.push(literal());
      }
      expectPunct(')');
      return (e) => values.some((v) => same(get(e), v));
    }
    const known = OPERATOR_NAMES[opName];
    if (known)
      throw new GraphFailure(
        400,
        'Request_UnsupportedQuery',
        `Unsupported property filter clause operator '${known}'.`,
      );
    throw filterSyntax(text, op.pos);
  };
  const andExpr = (): Predicate => {
    let left = primary();
    while (peek()?.t === 'ident' && (peek() as { v: string }).v.toLowerCase() === 'and') {
      i++;
      const l = left;
      const r = primary();
      left = (e) => l(e) && r(e);
    }
    return left;
  };
  const orExpr = (): Predicate => {
    let left = andExpr();
    while (peek()?.t === 'ident' && (peek() as { v: string }).v.toLowerCase() === 'or') {
      i++;
      const l = left;
      const r = andExpr();
      left = (e) => l(e) || r(e);
    }
    return left;
  };
  if (tokens.length === 0) throw filterSyntax(text, 0);
  const pred = orExpr();
  if (i < tokens.length) throw filterSyntax(text, tokens[i]!.pos);
  return pred;
}

// ---- query options ----

export interface ListOptions {
  filter?: Predicate;
  select?: Set<string>;
  top: number;
  skip: number;
  count: boolean;
}

const KNOWN_OPTIONS = new Set([
  '$filter',
  '$select',
  '$top',
  '$skiptoken',
  '$count',
  '$expand',
  '$orderby',
  '$search',
  '$skip',
  '$format',
]);

/** `$select=a,b` checked against the entity type. */
export function parseSelect(query: URLSearchParams, typeName: string): Set<string> | undefined {
  const raw = query.get('$select');
  if (raw === null) return undefined;
  const t = typeDef(typeName);
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw querySyntax();
  for (const n of names) {
    const p = t.byName.get(n);
    if (!p || p.stream)
      throw new GraphFailure(
        400,
        'BadRequest',
        `Parsing OData Select and Expand failed: Could not find a property named '${n.length > 64 ? n.slice(0, 64) : n}' on type 'microsoft.graph.${typeName}'.`,
      );
  }
  return new Set(names);
}

/** Checks the query options common to every request (unknown `$` options, unsupported ones). */
export function checkQueryOptions(query: URLSearchParams): void {
  for (const key of query.keys()) {
    if (!key.startsWith('$')) continue;
    if (!KNOWN_OPTIONS.has(key))
      throw new GraphFailure(400, 'BadRequest', `The query parameter '${key.slice(0, 64)}' is not supported.`);
    if (key === '$expand' || key === '$orderby' || key === '$search' || key === '$skip')
      throw new GraphFailure(400, 'Request_UnsupportedQuery', 'Unsupported query.');
  }
}

export function encodeSkipToken(offset: number): string {
  return `RFNwdAIA${Buffer.from(JSON.stringify({ o: offset })).toString('base64url')}`;
}

function decodeSkipToken(token: string): number {
  if (!token.startsWith('RFNwdAIA')) throw new GraphFailure(400, 'Request_BadRequest', 'Invalid paging token.');
  try {
    const v = JSON.parse(Buffer.from(token.slice(8), 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return v.o;
  } catch {
    // fall through
  }
  throw new GraphFailure(400, 'Request_BadRequest', 'Invalid paging token.');
}

/** The options of a collection read. */
export function parseListOptions(
  query: URLSearchParams,
  typeName: string,
  fields: FilterFields | undefined,
  resource: string,
  headers: Readonly<Record<string, string>> = {},
): ListOptions {
  checkQueryOptions(query);
  const topRaw = query.get('$top');
  let top = 100;
  if (topRaw !== null) {
    const n = Number(topRaw);
    if (!/^\d+$/.test(topRaw) || !Number.isInteger(n) || n < 1 || n > 999)
      throw new GraphFailure(
        400,
        'Request_BadRequest',
        `Invalid page size specified: '${topRaw.slice(0, 32)}'. Must be between 1 and 999 inclusive.`,
      );
    top = n;
  }
  const skipRaw = query.get('$skiptoken');
  const skip = skipRaw === null ? 0 : decodeSkipToken(skipRaw);
  const filterRaw = query.get('$filter');
  let filter: Predicate | undefined;
  if (filterRaw !== null) {
    if (!fields) throw new GraphFailure(400, 'Request_UnsupportedQuery', 'Unsupported query.');
    filter = parseFilter(filterRaw, fields, resource);
  }
  const countRaw = query.get('$count');
  if (countRaw !== null && countRaw !== 'true' && countRaw !== 'false') throw querySyntax();
  // $count on directory objects is an advanced query: it needs `ConsistencyLevel: eventual`.
  if (countRaw === 'true' && headers['consistencylevel']?.toLowerCase() !== 'eventual')
    throw new GraphFailure(400, 'Request_BadRequest', '$count is not currently supported.');
  return { filter, select: parseSelect(query, typeName), top, skip, count: countRaw === 'true' };
}
