/**
 * Microsoft's Graph v1.0 type model (a verbatim copy of the reference extracted from msgraph-metadata, see
 * graph-v1-types.json `source`) and the two things the emulator does with it: serialize stored entities with exactly
 * the declared structural properties, and check request bodies against the declared types.
 */
import rawModel from './graph-v1-types.json' with { type: 'json' };
import { GUID_RE } from '../state.js';
import { GraphFailure } from './errors.js';

interface RawProperty {
  type?: string;
  ref?: string;
  edmType: string;
  collection: boolean;
  nullable: boolean;
  note?: string;
}

interface RawType {
  kind: 'entity' | 'complex' | 'enum';
  baseType?: string;
  openType?: boolean;
  properties?: Record<string, RawProperty>;
  members?: string[];
  isFlags?: boolean;
}

export interface PropertyDef {
  name: string;
  /** Element type: `Edm.String`, `Edm.Guid`, … or `graph.appRole`. */
  elementType: string;
  /** The declared EDM type as written in the model (`Collection(graph.appRole)`). */
  edmType: string;
  /** Name of the referenced complex or enum type, if any. */
  ref: string | undefined;
  collection: boolean;
  nullable: boolean;
  /** Media stream properties are not part of the JSON body. */
  stream: boolean;
}

export interface TypeDef {
  name: string;
  kind: 'entity' | 'complex' | 'enum';
  open: boolean;
  /** Own and inherited structural properties, inherited first (`id`, `deletedDateTime`, …). */
  properties: PropertyDef[];
  byName: Map<string, PropertyDef>;
  members: Set<string> | undefined;
  isFlags: boolean;
}

const RAW = rawModel as unknown as { types: Record<string, RawType> };

function buildTypes(): Map<string, TypeDef> {
  const out = new Map<string, TypeDef>();
  const build = (name: string): TypeDef => {
    const existing = out.get(name);
    if (existing) return existing;
    const raw = RAW.types[name];
    if (!raw) throw new Error(`graph model: no type ${name}`);
    const inherited = raw.baseType ? build(raw.baseType).properties : [];
    const own: PropertyDef[] = Object.entries(raw.properties ?? {}).map(([pname, p]) => {
      const m = /^Collection\((.+)\)$/.exec(p.edmType);
      return {
        name: pname,
        elementType: m ? m[1]! : p.edmType,
        edmType: p.edmType,
        ref: p.ref,
        collection: p.collection,
        nullable: p.nullable,
        stream: p.edmType === 'Edm.Stream',
      };
    });
    const properties = [...inherited, ...own];
    const def: TypeDef = {
      name,
      kind: raw.kind,
      open: raw.openType === true,
      properties,
      byName: new Map(properties.map((p) => [p.name, p])),
      members: raw.members ? new Set(raw.members) : undefined,
      isFlags: raw.isFlags === true,
    };
    out.set(name, def);
    return def;
  };
  for (const name of Object.keys(RAW.types)) build(name);
  return out;
}

export const GRAPH_TYPES: ReadonlyMap<string, TypeDef> = buildTypes();

export function typeDef(name: string): TypeDef {
  const t = GRAPH_TYPES.get(name);
  if (!t) throw new Error(`graph model: no type ${name}`);
  return t;
}

/**
 * Properties Graph leaves out of a default read and returns only when named in `$select`
 * (documented as "Returned only on $select" on the resource pages).
 */
export const SELECT_ONLY: Readonly<Record<string, ReadonlySet<string>>> = {
  application: new Set(['authenticationBehaviors']),
  servicePrincipal: new Set(['customSecurityAttributes']),
};

export interface SerializeOptions {
  /** Only these properties (from `$select`); undefined = the default set. */
  select?: ReadonlySet<string>;
  /** Values to use where the stored entity has none (Graph's defaults for a new object). */
  defaults?: Readonly<Record<string, unknown>>;
  /** keyCredential.key is returned only on `$select=keyCredentials` of a single object. */
  includeKeys?: boolean;
  /** passwordCredential.secretText is returned only by addPassword. */
  includeSecretText?: boolean;
}

function primitiveDefault(p: PropertyDef): unknown {
  if (p.collection) return [];
  if (p.nullable) return null;
  switch (p.elementType) {
    case 'Edm.Boolean':
      return false;
    case 'Edm.Int32':
      return 0;
    default:
      return null;
  }
}

function serializeElement(p: PropertyDef, value: unknown, options: SerializeOptions): unknown {
  if (value === null || value === undefined) return null;
  if (p.ref) {
    const t = GRAPH_TYPES.get(p.ref);
    if (t && t.kind === 'complex') {
      if (typeof value !== 'object' || Array.isArray(value)) return null;
      return t.open ? value : serializeComplex(t, value as Record<string, unknown>, options);
    }
  }
  return value;
}

function serializeValue(p: PropertyDef, value: unknown, options: SerializeOptions): unknown {
  if (value === undefined || value === null) return primitiveDefault(p);
  if (p.collection) {
    if (!Array.isArray(value)) return [];
    return value.map((v) => serializeElement(p, v, options));
  }
  return serializeElement(p, value, options);
}

function serializeComplex(
  t: TypeDef,
  value: Record<string, unknown>,
  options: SerializeOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of t.properties) {
    if (p.stream) continue;
    let v = serializeValue(p, value[p.name], options);
    if (t.name === 'keyCredential' && p.name === 'key' && !options.includeKeys) v = null;
    if (t.name === 'passwordCredential' && p.name === 'secretText' && !options.includeSecretText) v = null;
    out[p.name] = v;
  }
  return out;
}

/** A stored entity as Graph returns it: the declared structural properties of its type, nothing else. */
export function serializeEntity(
  typeName: string,
  entity: Record<string, unknown>,
  options: SerializeOptions = {},
): Record<string, unknown> {
  const t = typeDef(typeName);
  const selectOnly = SELECT_ONLY[typeName];
  const out: Record<string, unknown> = {};
  for (const p of t.properties) {
    if (p.stream) continue;
    if (options.select) {
      if (!options.select.has(p.name)) continue;
    } else if (selectOnly?.has(p.name)) continue;
    const stored = entity[p.name];
    const value = stored === undefined ? options.defaults?.[p.name] : stored;
    out[p.name] = serializeValue(p, value, options);
  }
  return out;
}

/** A complex value (e.g. the passwordCredential addPassword returns) with all declared properties. */
export function serializeComplexValue(
  typeName: string,
  value: Record<string, unknown>,
  options: SerializeOptions = {},
): Record<string, unknown> {
  return serializeComplex(typeDef(typeName), value, options);
}

// ---- request body checks ----

/** Microsoft.DirectoryServices type names, as the directory's error messages spell them. */
function directoryTypeName(name: string): string {
  return `Microsoft.DirectoryServices.${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

function shortLiteral(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function mismatch(propertyName: string): GraphFailure {
  return new GraphFailure(
    400,
    'BadRequest',
    `Property ${propertyName} in payload has a value that does not match schema.`,
  );
}

/** Where a checked value sits: the top-level property and the resource, for the directory's messages. */
interface Where {
  name: string;
  resource: string;
}

/** Longest string the directory takes in a property (its real limits are lower for most properties). */
const MAX_STRING = 4096;
/** Longest base64 value (a certificate with a long chain fits). */
const MAX_BINARY = 65536;

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function checkPrimitive(p: PropertyDef, v: unknown, where: Where): void {
  const literal = (): GraphFailure =>
    new GraphFailure(
      400,
      'BadRequest',
      `Cannot convert the literal '${shortLiteral(v)}' to the expected type '${p.elementType}'.`,
    );
  switch (p.elementType) {
    case 'Edm.String':
      if (typeof v !== 'string') throw mismatch(where.name);
      if (v.length > MAX_STRING) throw invalidValue(where.name, where.resource);
      return;
    case 'Edm.Boolean':
      if (typeof v !== 'boolean') throw mismatch(where.name);
      return;
    case 'Edm.Int32':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
        throw mismatch(where.name);
      return;
    case 'Edm.Guid':
      if (typeof v !== 'string') throw mismatch(where.name);
      if (!GUID_RE.test(v)) throw literal();
      return;
    case 'Edm.DateTimeOffset':
      if (typeof v !== 'string') throw mismatch(where.name);
      if (!DATE_RE.test(v) || Number.isNaN(Date.parse(v))) throw literal();
      return;
    case 'Edm.Binary':
      if (typeof v !== 'string') throw mismatch(where.name);
      if (v.length > MAX_BINARY) throw invalidValue(where.name, where.resource);
      if (!BASE64_RE.test(v)) throw literal();
      return;
    case 'Edm.Stream':
      throw mismatch(where.name);
    default:
      throw mismatch(where.name);
  }
}

function checkElement(p: PropertyDef, v: unknown, where: Where, depth: number): void {
  const t = p.ref ? GRAPH_TYPES.get(p.ref) : undefined;
  if (!t) {
    checkPrimitive(p, v, where);
    return;
  }
  if (t.kind === 'enum') {
    if (typeof v !== 'string') throw mismatch(where.name);
    const values = t.isFlags ? v.split(',').map((s) => s.trim()) : [v];
    if (!values.every((x) => t.members!.has(x)))
      throw new GraphFailure(
        400,
        'BadRequest',
        `The string '${shortLiteral(v)}' is not a valid enumeration type constant.`,
      );
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw mismatch(where.name);
  if (t.open) return;
  checkObject(t, v as Record<string, unknown>, where, depth + 1);
}

function checkValue(p: PropertyDef, v: unknown, where: Where, depth: number): void {
  if (v === null) {
    if (!p.nullable || p.collection) {
      const expected = `${p.edmType}[Nullable=False]`;
      throw new GraphFailure(
        400,
        'BadRequest',
        `A null value was found for the property named '${p.name}', which has the expected type '${expected}'. The expected type '${expected}' does not allow null values.`,
      );
    }
    return;
  }
  if (p.collection) {
    if (!Array.isArray(v)) throw mismatch(where.name);
    for (const el of v) {
      if (el === null) throw mismatch(where.name);
      checkElement(p, el, where, depth);
    }
    return;
  }
  checkElement(p, v, where, depth);
}

function checkObject(t: TypeDef, body: Record<string, unknown>, where: Where, depth: number): void {
  if (depth > 16) throw mismatch(where.name);
  for (const [key, v] of Object.entries(body)) {
    if (key.startsWith('@odata.')) continue;
    const p = t.byName.get(key);
    if (!p)
      throw new GraphFailure(
        400,
        'Request_BadRequest',
        `The property '${shortLiteral(key)}' does not exist on type '${directoryTypeName(t.name)}'. Make sure to only use property names that are defined by the type.`,
      );
    checkValue(p, v, where, depth);
  }
}

export interface BodyRules {
  /** Resource name in the directory's messages ('Application', 'ServicePrincipal', 'AppRoleAssignment'). */
  resource: string;
  /** Properties the client may not set (server-assigned or immutable). */
  readOnly?: ReadonlySet<string>;
  /** Properties accepted and dropped (e.g. `id` echoed back by SDKs). */
  ignored?: ReadonlySet<string>;
}

/**
 * Checks a write body against an entity type: known property names (an unknown one on an open directory type is
 * "Invalid property", on a complex type "does not exist on type"), JSON kinds, EDM literals, nullability. Returns the
 * properties to apply.
 */
export function checkEntityBody(
  typeName: string,
  body: Record<string, unknown>,
  rules: BodyRules,
): Map<string, unknown> {
  const t = typeDef(typeName);
  const out = new Map<string, unknown>();
  for (const [key, v] of Object.entries(body)) {
    if (key.startsWith('@odata.')) continue;
    if (rules.ignored?.has(key)) continue;
    const p = t.byName.get(key);
    if (!p || p.stream) {
      if (t.open) throw new GraphFailure(400, 'Request_BadRequest', `Invalid property '${shortLiteral(key)}'.`);
      throw new GraphFailure(
        400,
        'Request_BadRequest',
        `The property '${shortLiteral(key)}' does not exist on type '${directoryTypeName(t.name)}'. Make sure to only use property names that are defined by the type.`,
      );
    }
    if (rules.readOnly?.has(key))
      throw new GraphFailure(400, 'Request_BadRequest', `Property '${key}' is read-only and cannot be set.`);
    checkValue(p, v, { name: key, resource: rules.resource }, 0);
    out.set(key, v);
  }
  return out;
}

/** Checks a value against a complex type (e.g. the passwordCredential of addPassword). */
export function checkComplexBody(typeName: string, body: unknown, topName: string): Record<string, unknown> {
  const t = typeDef(typeName);
  const where: Where = { name: topName, resource: t.name.charAt(0).toUpperCase() + t.name.slice(1) };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw mismatch(where.name);
  checkObject(t, body as Record<string, unknown>, where, 0);
  return body as Record<string, unknown>;
}

/** The directory's generic message for a value it refuses. */
export function invalidValue(property: string, resource: string): GraphFailure {
  return new GraphFailure(
    400,
    'Request_BadRequest',
    `Invalid value specified for property '${property}' of resource '${resource}'.`,
  );
}
