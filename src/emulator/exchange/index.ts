/**
 * Exchange Online admin API, as the ExchangeOnlineManagement module (and CIPP) call it:
 * `POST /adminapi/{beta|v1.0}/{tenant}/InvokeCommand` with `{"CmdletInput":{"CmdletName","Parameters"}}`, a bearer token
 * for https://outlook.office365.com, answers `{"@odata.context", "@adminapi.warnings", "value":[…]}` paged with
 * `Prefer: odata.maxpagesize=N` → `@odata.nextLink` (the client re-POSTs the same body there), and Exchange's errors.
 * `POST /adminapi/{beta|v1.0}/{tenant}/$batch` runs up to 10 InvokeCommand calls in one request (batch.ts).
 */
import { createHash } from 'node:crypto';
import { authenticate, type Caller, type EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse, HttpService } from '../http.js';
import { EXCHANGE_APP_ID } from '../seed.js';
import type { TenantRecord } from '../state.js';
import { RESOURCES } from '../tokens.js';
import { CMDLETS, isWriteCmdlet } from './cmdlets/index.js';
import { BATCH_RE, handleBatch, type BatchHandlers } from './batch.js';
import { EXCHANGE_ERROR_KINDS, ExchangeError, accessDenied, malformed, notAllowed, unknownCmdlet } from './errors.js';
import type { CmdletOutput, Row } from './model.js';
import { bindParameters } from './params.js';
import { JSON_TYPE, errorResponse, respond, simpleError } from './wire.js';

export {
  EXCHANGE_ERROR_KINDS,
  classifyExchangeError,
  type ExchangeErrorCategory,
  type ExchangeErrorKind,
  type ExchangeErrorKindName,
} from './errors.js';
export { APPLICATION_ROLES } from './cmdlets/index.js';
export { BATCH_ITEM_MARK, MAX_BATCH_REQUESTS, isExchangeBatchItem } from './batch.js';

const EXCHANGE_RESOURCE = RESOURCES.find((r) => r.appId === EXCHANGE_APP_ID)!;
const INVOKE_RE = /^\/adminapi\/(beta|v1\.0)\/([^/]+)\/InvokeCommand$/i;
const MANAGE_AS_APP = 'Exchange.ManageAsApp';
/** Entra roles that let a caller run every cmdlet the product uses. */
const ADMIN_DIRECTORY_ROLES = ['Exchange Administrator', 'Global Administrator'];
/**
 * Entra roles Exchange accepts for app-only access (app-only-auth-powershell-v2.md) that do not cover the product's
 * writes here: read-only ones may call Get-/Test- cmdlets only.
 */
const READ_ONLY_DIRECTORY_ROLES = ['Global Reader', 'Security Reader'];
const OTHER_SUPPORTED_DIRECTORY_ROLES = [
  'Exchange Recipient Administrator',
  'Compliance Administrator',
  'Security Administrator',
  'Helpdesk Administrator',
];
/** The largest page the service hands out, whatever the client prefers. */
const MAX_PAGE_SIZE = 1000;

// ---- authentication ----

function tokenClaim(authorization: string | undefined, claim: string): string {
  const token = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')?.[1];
  try {
    const payload = JSON.parse(Buffer.from(token?.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    return String(payload[claim] ?? '');
  } catch {
    return '';
  }
}

/** 401 as Exchange sends it: a Bearer challenge naming its resource, and the reason in x-ms-diagnostics. */
function unauthorized(
  code: number,
  reason: string,
  category: 'invalid_token' | 'invalid_resource' | 'invalid_tenant',
): EmulatorResponse {
  const e = new ExchangeError(EXCHANGE_ERROR_KINDS.unauthenticated, reason, {
    withDetails: false,
    headers: {
      'WWW-Authenticate': `Bearer client_id="${EXCHANGE_APP_ID}", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"`,
      'x-ms-diagnostics': `${code};reason="${reason}";error_category="${category}"`,
    },
  });
  return errorResponse(e);
}

/**
 * Whether the caller may run this cmdlet, as Exchange answers (m365-facts §8): an app needs Exchange.ManageAsApp
 * (else 401 "User is not allowed to call <cmdlet>") and a directory role Exchange supports for app-only access (else
 * 401 "The role assigned to application <id> isn't supported in this scenario…", CmdletAccessDeniedException); a
 * read-only role may call Get-/Test- cmdlets only ("User is not allowed to call <cmdlet>"). A user needs an admin role.
 */
function authorize(caller: Caller, cmdlet: string): ExchangeError | undefined {
  const has = (list: string[]): boolean => caller.directoryRoles.some((r) => list.includes(r));
  const readsOnly = /^(Get|Test)-/i.test(cmdlet);
  if (caller.kind === 'app') {
    if (!caller.roles.includes(MANAGE_AS_APP)) return notAllowed(`User is not allowed to call ${cmdlet}`);
    if (has(ADMIN_DIRECTORY_ROLES) || has(OTHER_SUPPORTED_DIRECTORY_ROLES)) return undefined;
    if (has(READ_ONLY_DIRECTORY_ROLES))
      return readsOnly ? undefined : notAllowed(`User is not allowed to call ${cmdlet}`);
    return notAllowed(
      `The role assigned to application ${caller.appId} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.`,
    );
  }
  if (has(ADMIN_DIRECTORY_ROLES)) return undefined;
  if (has(READ_ONLY_DIRECTORY_ROLES))
    return readsOnly ? undefined : notAllowed(`User is not allowed to call ${cmdlet}`);
  const upn = String(caller.claims.upn ?? caller.objectId);
  return accessDenied(`The user "${upn}" isn't assigned to any management roles.`);
}

// ---- the request ----

interface CmdletInput {
  name: string;
  parameters: Record<string, unknown>;
}

function parseBody(body: Buffer): CmdletInput {
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw malformed('The request body is not valid JSON. Send {"CmdletInput":{"CmdletName":"…","Parameters":{…}}}.');
  }
  const input =
    typeof data === 'object' && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>).CmdletInput
      : undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw malformed('The request body has no CmdletInput object.');
  const { CmdletName: name, Parameters: parameters } = input as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '') throw malformed('CmdletInput.CmdletName must be a cmdlet name.');
  if (parameters !== undefined && parameters !== null && (typeof parameters !== 'object' || Array.isArray(parameters)))
    throw malformed('CmdletInput.Parameters must be an object of parameter names and values.');
  return { name: name.trim(), parameters: (parameters as Record<string, unknown> | null | undefined) ?? {} };
}

/** A stable fingerprint of the cmdlet call, so that a nextLink only continues the call it came from. */
function fingerprint(input: CmdletInput): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k.toLowerCase(), canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify([input.name.toLowerCase(), canonical(input.parameters)]))
    .digest('base64url')
    .slice(0, 16);
}

function pageSize(req: EmulatorRequest): number | undefined {
  const prefer = String(req.headers.prefer ?? '');
  const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(prefer);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 ? Math.min(n, MAX_PAGE_SIZE) : undefined;
}

function readSkipToken(req: EmulatorRequest, print: string): number {
  const raw = req.url.searchParams.get('$skiptoken');
  if (raw === null) return 0;
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { o?: unknown; f?: unknown };
    if (typeof t.o === 'number' && Number.isInteger(t.o) && t.o >= 0 && t.f === print) return t.o;
  } catch {
    // fall through
  }
  throw malformed(
    'The $skiptoken is not valid for this request. Re-POST the same body to the @odata.nextLink you were given.',
  );
}

function nextLink(req: EmulatorRequest, offset: number, print: string): string {
  const url = new URL(req.url.pathname, req.baseUrl);
  for (const [k, v] of req.url.searchParams) if (k !== '$skiptoken') url.searchParams.set(k, v);
  url.searchParams.set('$skiptoken', Buffer.from(JSON.stringify({ o: offset, f: print })).toString('base64url'));
  return url.toString();
}

function select(rows: Row[], req: EmulatorRequest): Row[] {
  const raw = req.url.searchParams.get('$select');
  if (!raw) return rows;
  const wanted = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => wanted.includes(k.toLowerCase()))));
}

function runCmdlet(ctx: EmulatorContext, tenant: TenantRecord, caller: Caller, input: CmdletInput): CmdletOutput {
  const def = CMDLETS.get(input.name.toLowerCase());
  if (!def) throw unknownCmdlet(input.name);
  const params = bindParameters(def.params, input.parameters);
  if (params.bool('WhatIf')) return { value: [], warnings: [] };
  return def.run({ store: ctx.store, tenant, caller }, params);
}

/**
 * Authenticates a request to `/adminapi/{version}/{segment}/…` and resolves its organization: the caller, or the
 * answer Exchange gives (401 for a bad token or a token of another tenant, 404 for an unknown organization).
 */
function admit(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  segment: string,
): { caller: Caller; tenant: TenantRecord } | EmulatorResponse {
  const auth = authenticate(ctx, req.headers.authorization, EXCHANGE_RESOURCE);
  if (!auth.ok) {
    switch (auth.reason) {
      case 'audience':
        return unauthorized(
          2000003,
          `The audience claim value is invalid '${tokenClaim(req.headers.authorization, 'aud')}'.`,
          'invalid_resource',
        );
      case 'tenant':
        return unauthorized(
          2000004,
          `The tenant for tenant guid '${tokenClaim(req.headers.authorization, 'tid')}' does not exist.`,
          'invalid_tenant',
        );
      case 'malformed':
        return unauthorized(2000001, 'OAuth token submitted with the request cannot be parsed.', 'invalid_token');
      default:
        return unauthorized(2000001, auth.message, 'invalid_token');
    }
  }
  const { caller } = auth;
  req.log.caller = caller.kind === 'app' ? caller.appId : String(caller.claims.upn ?? caller.objectId);
  const tenant = ctx.store.findTenant(segment);
  if (!tenant)
    return simpleError(EXCHANGE_ERROR_KINDS.tenantNotFound, `The tenant for tenant guid '${segment}' does not exist.`);
  req.log.tenantId = tenant.id;
  if (caller.tenant.id !== tenant.id)
    return unauthorized(
      2000004,
      `The token was issued for tenant '${caller.tenant.id}', not for the organization '${segment}' of this request.`,
      'invalid_tenant',
    );
  return { caller, tenant };
}

function handleInvoke(ctx: EmulatorContext, req: EmulatorRequest, version: string, segment: string): EmulatorResponse {
  req.log.write = false;
  const admitted = admit(ctx, req, segment);
  if (!('caller' in admitted)) return admitted;
  const { caller, tenant } = admitted;

  let input: CmdletInput;
  try {
    input = parseBody(req.body);
  } catch (e) {
    if (e instanceof ExchangeError) return errorResponse(e);
    throw e;
  }
  const def = CMDLETS.get(input.name.toLowerCase());
  req.log.cmdlet = def?.name ?? input.name;
  req.log.write = isWriteCmdlet(input.name);

  const denied = authorize(caller, def?.name ?? input.name);
  if (denied) return errorResponse(denied);

  const print = fingerprint(input);
  let result: CmdletOutput;
  let offset: number;
  try {
    offset = readSkipToken(req, print);
    result = runCmdlet(ctx, tenant, caller, input);
  } catch (e) {
    if (e instanceof ExchangeError) return errorResponse(e);
    throw e;
  }

  const rows = select(result.value, req);
  // Writes answer in one page: re-POSTing a write to a nextLink would run it again.
  const size = req.log.write ? undefined : pageSize(req);
  const limit = size ?? MAX_PAGE_SIZE;
  const page = rows.slice(offset, offset + limit);
  const more = offset + limit < rows.length;
  const body: Record<string, unknown> = {
    '@odata.context': `${req.baseUrl}/adminapi/${version}/${tenant.id}/$metadata#Collection(Exchange.GenericHashTable)`,
    'adminapi.warnings@odata.type': '#Collection(String)',
    '@adminapi.warnings': offset === 0 ? result.warnings : [],
    ...(more ? { '@odata.nextLink': nextLink(req, offset + limit, print) } : {}),
    value: page,
  };
  return respond(200, body, size ? { 'Preference-Applied': `odata.maxpagesize=${size}` } : {});
}

/** The cmdlet a body names and whether it writes, for the log of a call refused before it ran. */
function describe(body: Buffer): { cmdlet?: string; write: boolean } {
  try {
    const name = parseBody(body).name;
    return { cmdlet: CMDLETS.get(name.toLowerCase())?.name ?? name, write: isWriteCmdlet(name) };
  } catch {
    return { write: false };
  }
}

function failure(status: 429 | 500 | 503, retryAfterSeconds?: number): EmulatorResponse {
  if (status === 429)
    return simpleError(
      EXCHANGE_ERROR_KINDS.throttled,
      `The request was throttled by the server. Retry after ${retryAfterSeconds ?? 1} seconds.`,
    );
  if (status === 503)
    return simpleError(
      EXCHANGE_ERROR_KINDS.unavailable,
      'The server is temporarily unavailable. Please try again later.',
    );
  return simpleError(EXCHANGE_ERROR_KINDS.internal, 'Internal server error');
}

export function createExchangeService(ctx: EmulatorContext): HttpService {
  const batch: BatchHandlers = {
    admit: (req, segment) => admit(ctx, req, segment),
    invoke: (req, version, segment) => handleInvoke(ctx, req, version, segment),
    failure: (_req, status, retryAfterSeconds) => failure(status, retryAfterSeconds),
    describe,
  };
  return {
    name: 'exchange',
    matches: (path) => path === '/adminapi' || path.startsWith('/adminapi/'),
    handle(req) {
      req.log.write = false;
      const b = BATCH_RE.exec(req.path);
      if (b) return handleBatch(ctx, req, b[2]!, batch);
      const m = INVOKE_RE.exec(req.path);
      if (!m)
        return simpleError(
          {
            ...EXCHANGE_ERROR_KINDS.tenantNotFound,
            exceptionType: 'Microsoft.Exchange.Admin.OData.Core.ODataServiceException',
          },
          `No admin API resource answers ${req.path}.`,
        );
      if (req.method !== 'POST')
        return {
          ...simpleError(
            { ...EXCHANGE_ERROR_KINDS.malformedRequest, status: 405, code: 'MethodNotAllowed' },
            `The HTTP method '${req.method}' is not allowed on InvokeCommand; use POST.`,
          ),
          headers: { 'Content-Type': JSON_TYPE, Allow: 'POST' },
        };
      return handleInvoke(ctx, req, m[1]!.toLowerCase(), m[2]!);
    },
    errorResponse(req, status, retryAfterSeconds) {
      // Throttled or failed before the handler ran: log what the request asked for (a refused Get- is no write).
      req.log.write = false;
      if (INVOKE_RE.test(req.path)) Object.assign(req.log, describe(req.body));
      return failure(status, retryAfterSeconds);
    },
  };
}
