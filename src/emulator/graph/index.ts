/**
 * Microsoft Graph v1.0 as the emulator serves it: applications (with credentials and the uniqueName upsert),
 * service principals, app role assignments, organization, domains and JSON batching, stateful per tenant, with
 * Graph's bodies, status codes and errors. The caller is the token's tenant and client; its token must carry the
 * permissions the real API requires.
 */
import type { EmulatorContext } from '../context.js';
import { authenticate } from '../context.js';
import type { EmulatorRequest, EmulatorResponse, HttpService } from '../http.js';
import { GRAPH_APP_ID } from '../seed.js';
import { RESOURCES } from '../tokens.js';
import { runBatch } from './batch.js';
import { GraphFailure, errorBody, errorResult, methodNotAllowed } from './errors.js';
import { executeGraphCall } from './router.js';

export { GRAPH_BATCH_ITEM_MARK, isGraphBatchItem } from './batch.js';

const VERSION_PREFIX = /^\/v1(?:\.|%2e)0(?=\/|$)/i;

function headerMap(req: EmulatorRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function ids(req: EmulatorRequest): { requestId: string; clientRequestId: string } {
  const client = req.headers['client-request-id'];
  return { requestId: req.requestId, clientRequestId: typeof client === 'string' && client ? client : req.requestId };
}

export function createGraphService(ctx: EmulatorContext): HttpService {
  const graph = RESOURCES.find((r) => r.appId === GRAPH_APP_ID)!;

  const handle = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authenticate(ctx, req.headers.authorization, graph);
    if (!auth.ok) {
      return {
        status: 401,
        headers: {
          'Content-Type': 'application/json',
          'WWW-Authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
        },
        body: errorBody('InvalidAuthenticationToken', auth.message, ids(req)),
      };
    }
    const caller = auth.caller;
    req.log.tenantId = caller.tenant.id;
    req.log.caller = caller.kind === 'app' ? caller.appId : String(caller.claims.upn ?? caller.objectId);
    const rawPath = req.url.pathname.replace(VERSION_PREFIX, '');
    const { requestId, clientRequestId } = ids(req);
    const base = { ctx, caller, baseUrl: req.baseUrl };
    if (/^\/\$batch\/?$/i.test(rawPath)) {
      // The envelope is not a write of its own: its items are logged one by one.
      req.log.write = false;
      try {
        if (req.method !== 'POST') throw methodNotAllowed();
        return runBatch({ base, clientRequestId, data: req.body });
      } catch (err) {
        if (err instanceof GraphFailure) return errorResult(err, { requestId, clientRequestId });
        throw err;
      }
    }
    return executeGraphCall({
      ...base,
      method: req.method,
      rawPath,
      query: req.url.searchParams,
      headers: headerMap(req),
      body: { kind: 'raw', data: req.body },
      requestId,
      clientRequestId,
    });
  };

  return {
    name: 'graph',
    matches: (path) => path === '/v1.0' || path.startsWith('/v1.0/'),
    handle,
    errorResponse: (req, status, retryAfterSeconds) => {
      const [code, message] =
        status === 429
          ? ['TooManyRequests', 'Too many requests.']
          : status === 503
            ? ['serviceNotAvailable', 'The service is temporarily unavailable.']
            : ['generalException', 'An unspecified error has occurred.'];
      return {
        status,
        headers: {
          'Content-Type': 'application/json',
          ...(retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : {}),
        },
        body: errorBody(code, message, ids(req)),
      };
    },
  };
}
