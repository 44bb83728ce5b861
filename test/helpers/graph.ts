/**
 * Test helpers for the emulated Microsoft Graph: the real Graph client pointed at the emulator, raw requests that
 * record every answer, tokens (app-only and delegated), test certificates, and the conformance check of response
 * bodies against Microsoft's type model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import forge from 'node-forge';
import { Client } from '@microsoft/microsoft-graph-client';
import type { TestEmulator } from './emulator.js';
import { loadOrCreatePki } from '../../src/emulator/pki.js';
import { TokenIssuer, RESOURCES } from '../../src/emulator/tokens.js';
import { userTokenClaims } from '../../src/emulator/claims.js';
import { GRAPH_APP_ID } from '../../src/emulator/seed.js';

export const CONTOSO = 'contoso.onmicrosoft.com';
export const FABRIKAM = 'fabrikam.onmicrosoft.com';
export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';

const here = path.dirname(fileURLToPath(import.meta.url));

/** An app-only Graph token for the seeded operator app in a tenant. */
export function operatorToken(emu: TestEmulator, tenant: string = CONTOSO): string {
  return emu.mintAppToken(tenant, emu.endpoints.operator.clientId, 'graph');
}

/** A delegated Graph token for a user of a tenant (as the device-code flow would issue it). */
export function userToken(emu: TestEmulator, tenant: string, upn: string, scopes: string[]): string {
  const t = emu.store.findTenant(tenant);
  if (!t) throw new Error(`no tenant ${tenant}`);
  const user = t.users.find((u) => u.entity.userPrincipalName === upn.toLowerCase());
  if (!user) throw new Error(`no user ${upn}`);
  const issuer = new TokenIssuer(loadOrCreatePki(emu.stateDir, []));
  const graph = RESOURCES.find((r) => r.appId === GRAPH_APP_ID)!;
  return issuer.sign(userTokenClaims(t, user, '14d82eec-204b-4c2f-b7e8-296a70dab67e', graph, scopes));
}

/**
 * The real @microsoft/microsoft-graph-client against the emulator: `baseUrl` is the emulator's origin (the client
 * appends `/v1.0`), `customHosts` lets its auth middleware attach the token to `localhost`, and the emulator's CA is
 * trusted through `fetchOptions.dispatcher` (an undici Agent with the CA), which the client passes to global fetch.
 */
export function graphClient(emu: TestEmulator, token: string | (() => string)): Client {
  return Client.initWithMiddleware({
    authProvider: { getAccessToken: async () => (typeof token === 'function' ? token() : token) },
    baseUrl: emu.endpoints.authorityHost,
    customHosts: new Set([new URL(emu.endpoints.authorityHost).hostname]),
    fetchOptions: { dispatcher: emu.dispatcher } as unknown as RequestInit,
  });
}

export interface RecordedResponse {
  method: string;
  url: string;
  status: number;

  body: any;
  headers: Headers;
}

/** Raw Graph calls against the emulator that keep every answer for the conformance check. */
export class GraphRecorder {
  readonly responses: RecordedResponse[] = [];

  constructor(private readonly emu: TestEmulator) {}

  async call(
    method: string,
    urlPath: string,
    options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<RecordedResponse> {
    const res = await this.emu.request(urlPath.startsWith('/v1.0') ? urlPath : `/v1.0${urlPath}`, {
      method,
      token: options.token,
      json: options.json,
      body: options.body,
      headers: options.headers,
    });
    const text = await res.text();
    let body: unknown = undefined;
    if (text.length > 0) body = JSON.parse(text);
    const r = { method, url: urlPath, status: res.status, body, headers: res.headers };
    this.responses.push(r);
    return r;
  }
}

/**
 * Records every Graph answer that passes through global fetch (how the Graph client calls the network), for the
 * conformance check. Returns a function that restores fetch.
 */
export function recordGlobalFetch(into: RecordedResponse[]): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await original(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.includes('/v1.0/')) {
      const text = await res.clone().text();
      into.push({
        method: init?.method ?? 'GET',
        url,
        status: res.status,
        body: text ? JSON.parse(text) : undefined,
        headers: res.headers,
      });
    }
    return res;
  };
  return () => {
    globalThis.fetch = original;
  };
}

/** A self-signed certificate (base64 DER, as keyCredentials.key takes it) with its SHA-1 thumbprint. */
export function testCertificate(cn = 'sendasapp-test', days = 365): { key: string; thumbprint: string; cn: string } {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  const md = forge.md.sha1.create();
  md.update(der);
  return { key: forge.util.encode64(der), thumbprint: md.digest().toHex().toUpperCase(), cn };
}

// ---- conformance against Microsoft's type model ----

interface ModelProperty {
  edmType: string;
  ref?: string;
  collection: boolean;
  nullable: boolean;
  note?: string;
}
interface ModelType {
  kind: string;
  baseType?: string;
  openType?: boolean;
  properties?: Record<string, ModelProperty>;
}

/** Microsoft's reference model (the copy the emulator ships; identical to the shared reference when it is there). */
export function loadTypeModel(): { types: Record<string, ModelType> } {
  return JSON.parse(readFileSync(path.resolve(here, '../../src/emulator/graph/graph-v1-types.json'), 'utf8'));
}

export const SHARED_REFERENCE = '/work/shared/reference/graph-v1-types.json';
export function sharedReference(): { types: Record<string, ModelType> } | undefined {
  return existsSync(SHARED_REFERENCE) ? JSON.parse(readFileSync(SHARED_REFERENCE, 'utf8')) : undefined;
}

/** Graph documents these as "Returned only on $select"; media streams are never in a JSON body. */
const NOT_IN_DEFAULT_READ: Record<string, string[]> = {
  application: ['authenticationBehaviors', 'logo'],
  servicePrincipal: ['customSecurityAttributes'],
};

function allProperties(model: { types: Record<string, ModelType> }, name: string): Record<string, ModelProperty> {
  const t = model.types[name];
  if (!t) throw new Error(`no type ${name} in the model`);
  return { ...(t.baseType ? allProperties(model, t.baseType) : {}), ...(t.properties ?? {}) };
}

function checkPrimitive(p: ModelProperty, v: unknown, where: string, problems: string[]): void {
  const element = p.edmType.replace(/^Collection\((.+)\)$/, '$1');
  const ok =
    element === 'Edm.Boolean'
      ? typeof v === 'boolean'
      : element === 'Edm.Int32'
        ? typeof v === 'number'
        : element === 'Edm.Guid'
          ? typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)
          : element === 'Edm.DateTimeOffset'
            ? typeof v === 'string' && !Number.isNaN(Date.parse(v))
            : typeof v === 'string';
  if (!ok) problems.push(`${where}: ${JSON.stringify(v)} is not ${element}`);
}

function checkObject(
  model: { types: Record<string, ModelType> },
  typeName: string,
  obj: Record<string, unknown>,
  where: string,
  problems: string[],
  select?: Set<string>,
): void {
  const t = model.types[typeName]!;
  if (t.openType && t.kind === 'complex') return;
  const props = allProperties(model, typeName);
  const skipped = new Set(NOT_IN_DEFAULT_READ[typeName] ?? []);
  for (const [k, v] of Object.entries(obj)) {
    if (k.startsWith('@odata.')) continue;
    const p = props[k];
    if (!p) {
      problems.push(`${where}: property '${k}' is not declared on ${typeName}`);
      continue;
    }
    if (p.note?.includes('media stream')) problems.push(`${where}: media stream '${k}' is in the body`);
    checkValue(model, p, v, `${where}.${k}`, problems);
  }
  for (const [k, p] of Object.entries(props)) {
    if (select ? !select.has(k) : skipped.has(k) || p.note?.includes('media stream')) continue;
    if (!(k in obj)) problems.push(`${where}: declared property '${k}' of ${typeName} is missing`);
  }
}

function checkValue(
  model: { types: Record<string, ModelType> },
  p: ModelProperty,
  v: unknown,
  where: string,
  problems: string[],
): void {
  if (p.collection) {
    if (!Array.isArray(v)) {
      problems.push(`${where}: collection expected, got ${JSON.stringify(v)}`);
      return;
    }
    v.forEach((el, i) => checkElement(model, p, el, `${where}[${i}]`, problems));
    return;
  }
  if (v === null) {
    if (!p.nullable) problems.push(`${where}: null for a non-nullable property`);
    return;
  }
  checkElement(model, p, v, where, problems);
}

function checkElement(
  model: { types: Record<string, ModelType> },
  p: ModelProperty,
  v: unknown,
  where: string,
  problems: string[],
): void {
  const ref = p.ref ? model.types[p.ref] : undefined;
  if (ref?.kind === 'complex') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) problems.push(`${where}: object expected`);
    else checkObject(model, p.ref!, v as Record<string, unknown>, where, problems);
    return;
  }
  if (ref?.kind === 'enum') {
    if (typeof v !== 'string') problems.push(`${where}: enum string expected`);
    return;
  }
  checkPrimitive(p, v, where, problems);
}

const ENTITY_SETS: Array<[RegExp, string]> = [
  [/#applications(?:\(([^)]*)\))?(\/\$entity)?$/, 'application'],
  [/#servicePrincipals(?:\(([^)]*)\))?(\/\$entity)?$/, 'servicePrincipal'],
  [
    /#servicePrincipals\('[^']*'\)\/appRole(?:AssignedTo|Assignments)(?:\(([^)]*)\))?(\/\$entity)?$/,
    'appRoleAssignment',
  ],
];

/** Problems of one Graph answer body: entity / collection bodies against the model, error bodies against the shape. */
export function conformanceProblems(r: { status: number; body: unknown; url: string }): string[] {
  const model = loadTypeModel();
  const problems: string[] = [];
  const where = `${r.status} ${r.url}`;
  const body = r.body as Record<string, unknown> | undefined;
  if (r.status === 204) {
    if (body !== undefined) problems.push(`${where}: 204 with a body`);
    return problems;
  }
  if (typeof body !== 'object' || body === null) return [`${where}: no JSON object body`];
  if (r.status >= 400) {
    const keys = Object.keys(body);
    if (keys.length !== 1 || keys[0] !== 'error') problems.push(`${where}: error body has keys ${keys.join(',')}`);
    const e = body.error as Record<string, unknown> | undefined;
    if (!e || typeof e.code !== 'string' || !e.code || typeof e.message !== 'string')
      problems.push(`${where}: error.code / error.message missing`);
    else {
      const allowed = new Set(['code', 'message', 'innerError', 'details']);
      for (const k of Object.keys(e)) if (!allowed.has(k)) problems.push(`${where}: error has unexpected '${k}'`);
      const inner = e.innerError as Record<string, unknown> | undefined;
      if (!inner) problems.push(`${where}: error.innerError missing`);
      else {
        for (const k of ['date', 'request-id', 'client-request-id'])
          if (typeof inner[k] !== 'string' || !inner[k]) problems.push(`${where}: innerError.${k} missing`);
        if (typeof inner.date === 'string' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(inner.date))
          problems.push(`${where}: innerError.date '${inner.date}' is not Graph's format`);
      }
      if (e.details !== undefined) {
        if (!Array.isArray(e.details)) problems.push(`${where}: details is not an array`);
        else
          for (const d of e.details as Array<Record<string, unknown>>)
            if (typeof d.code !== 'string') problems.push(`${where}: details[].code missing`);
      }
    }
    return problems;
  }
  if (Array.isArray((body as { responses?: unknown }).responses)) {
    for (const item of (body as { responses: Array<{ id: string; status: number; body?: unknown }> }).responses)
      problems.push(...conformanceProblems({ status: item.status, body: item.body, url: `${r.url}#${item.id}` }));
    return problems;
  }
  const context = body['@odata.context'];
  if (typeof context !== 'string' || !/\/v1\.0\/\$metadata#/.test(context)) {
    problems.push(`${where}: @odata.context missing or not a v1.0 metadata URL`);
    return problems;
  }
  if (context.endsWith('#microsoft.graph.passwordCredential')) {
    checkObject(model, 'passwordCredential', body, where, problems);
    return problems;
  }
  for (const [re, typeName] of ENTITY_SETS) {
    const m = re.exec(context);
    if (!m) continue;
    const select = m[1] ? new Set(m[1].split(',')) : undefined;
    if (m[2]) checkObject(model, typeName, body, where, problems, select);
    else {
      if (!Array.isArray(body.value)) problems.push(`${where}: collection without value[]`);
      else
        (body.value as Array<Record<string, unknown>>).forEach((v, i) =>
          checkObject(model, typeName, v, `${where} value[${i}]`, problems, select),
        );
    }
    return problems;
  }
  return problems; // organization, domains: not part of the reference model
}
