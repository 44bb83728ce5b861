/**
 * One HTTPS listener for every HTTP service of the emulator. Each service claims paths; the listener applies the
 * realism knobs (latency, injected faults, throttling) in front of it and writes the request log.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { EmulatorStore } from './store.js';
import type { ServiceName } from './state.js';

export interface EmulatorRequest {
  method: string;
  url: URL;
  /** Percent-decoded path, e.g. `/v1.0/applications(uniqueName='x')`. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  /** `https://host:port` as the client addressed us (for URLs in answers). */
  baseUrl: string;
  /** Handlers fill this for the request log. */
  log: { cmdlet?: string; tenantId?: string; caller?: string; write?: boolean };
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
}

export interface HttpService {
  name: ServiceName | 'control';
  matches(path: string): boolean;
  handle(req: EmulatorRequest): Promise<EmulatorResponse> | EmulatorResponse;
  /** The service's own answer for a throttled call (429), an injected 503, or an unexpected failure (500). */
  errorResponse(req: EmulatorRequest, status: 429 | 500 | 503, retryAfterSeconds?: number): EmulatorResponse;
}

const MAX_BODY = 4 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/** The request's URL, or undefined when the target or the Host header does not make one. */
function requestUrl(target: string, host: string): URL | undefined {
  try {
    const base = new URL(`https://${host}`);
    if (base.pathname !== '/' || base.search || base.hash || base.username) return undefined;
    return new URL(target, base);
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, r: EmulatorResponse): void {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload: Buffer | undefined;
  if (r.body === undefined || r.body === null) payload = undefined;
  else if (Buffer.isBuffer(r.body)) payload = r.body;
  else if (typeof r.body === 'string') payload = Buffer.from(r.body);
  else {
    payload = Buffer.from(JSON.stringify(r.body));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['Content-Type'] =
        'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
  }
  if (payload) headers['Content-Length'] = String(payload.length);
  else if (r.status !== 204 && r.status !== 304) headers['Content-Length'] = '0';
  res.writeHead(r.status, headers);
  res.end(payload);
}

export interface HttpListener {
  server: Server;
  stop(): Promise<void>;
}

export function createHttpListener(
  store: EmulatorStore,
  services: HttpService[],
  tls: { key: string; cert: string },
): HttpListener {
  const hanging = new Set<ServerResponse>();
  /** Exchange requests on the wire per organization (the `{tenant}` of `/adminapi/{version}/{tenant}/…`). */
  const exchangeInFlight = new Map<string, number>();

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = randomUUID();
    const host = req.headers.host ?? 'localhost';
    const url = requestUrl(req.url ?? '/', host);
    if (!url) {
      // A Host header or request target that is no URL (`Host: a b`, `GET http://[x/`): 400, and serve on.
      req.resume();
      send(res, {
        status: 400,
        headers: { 'request-id': requestId, 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' },
        body: { error: { code: 'BadRequest', message: 'The request URL or its Host header is not valid.' } },
      });
      return;
    }
    const path = safeDecode(url.pathname);
    const service = services.find((s) => s.matches(path));
    const method = (req.method ?? 'GET').toUpperCase();
    const emReq: EmulatorRequest = {
      method,
      url,
      path,
      headers: req.headers,
      body: Buffer.alloc(0),
      requestId,
      baseUrl: `https://${host}`,
      log: {},
    };
    /** Gives this request's Exchange place back (knobs.exchangeLimits): once answered, or when the socket goes. */
    let release = (): void => undefined;
    const finish = (r: EmulatorResponse): void => {
      release();
      r.headers = {
        'request-id': requestId,
        'client-request-id': String(req.headers['client-request-id'] ?? requestId),
        ...(r.headers ?? {}),
      };
      send(res, r);
      if (service && service.name !== 'control') {
        store.record({
          service: service.name,
          method,
          path,
          status: r.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          write: emReq.log.write ?? ['POST', 'PATCH', 'PUT', 'DELETE'].includes(method),
          ...(emReq.log.cmdlet ? { cmdlet: emReq.log.cmdlet } : {}),
          ...(emReq.log.tenantId ? { tenantId: emReq.log.tenantId } : {}),
          ...(emReq.log.caller ? { caller: emReq.log.caller } : {}),
        });
      }
    };
    try {
      const body = await readBody(req);
      if (!service) {
        finish({ status: 404, body: { error: { code: 'NotFound', message: `No emulated service answers ${path}.` } } });
        return;
      }
      if (body === 'too-large') {
        finish({
          status: 413,
          body: { error: { code: 'RequestEntityTooLarge', message: 'The request body is too large.' } },
        });
        return;
      }
      emReq.body = body;
      if (service.name !== 'control') {
        const name = service.name;
        const knobs = store.knobs;
        const org = name === 'exchange' ? /^\/adminapi\/[^/]+\/([^/]+)\//.exec(path)?.[1] : undefined;
        if (org !== undefined) {
          // Exchange Online throttles by operations running at once (knobs.exchangeLimits): one more is refused.
          const now = exchangeInFlight.get(org) ?? 0;
          const limit = knobs.exchangeLimits.concurrentRequestsPerTenant;
          if (limit > 0 && now >= limit) {
            const r = service.errorResponse(emReq, 429, 1);
            r.headers = { ...(r.headers ?? {}), 'Retry-After': '1' };
            finish(r);
            return;
          }
          exchangeInFlight.set(org, now + 1);
          release = () => {
            release = () => undefined;
            const left = (exchangeInFlight.get(org) ?? 1) - 1;
            if (left > 0) exchangeInFlight.set(org, left);
            else exchangeInFlight.delete(org);
          };
          res.once('close', () => release());
        }
        const latency = knobs.latency[name] ?? 0;
        if (latency > 0) await sleep(latency);
        const n = store.countCall(name);
        const fault = knobs.faults.find((f) => f.service === name && f.call === n);
        if (fault) {
          knobs.faults = knobs.faults.filter((f) => f !== fault);
          if (fault.kind === 'reset') {
            store.record({ service: name, method, path, status: 0, durationMs: 0, write: false });
            req.socket.destroy();
            return;
          }
          if (fault.kind === 'hang') {
            store.record({ service: name, method, path, status: 0, durationMs: 0, write: false });
            hanging.add(res);
            res.on('close', () => hanging.delete(res));
            return;
          }
          finish(service.errorResponse(emReq, 503));
          return;
        }
        const t = knobs.throttle;
        if (t.every > 0 && t.services.includes(name) && n % t.every === 0) {
          const r = service.errorResponse(emReq, 429, t.retryAfterSeconds);
          r.headers = { ...(r.headers ?? {}), 'Retry-After': String(t.retryAfterSeconds) };
          finish(r);
          return;
        }
      }
      finish(await service.handle(emReq));
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const r = service
        ? service.errorResponse(emReq, 500)
        : { status: 500, body: { error: { code: 'InternalServerError' } } };
      if (process.env.SENDASAPP_EMULATOR_DEBUG)
        process.stderr.write(`emulator: ${String((err as Error)?.stack ?? err)}\n`);
      finish(r);
    }
  };

  const server = createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    handler(req, res).catch(() => {
      // Nothing a client sends may take the emulator down: a failure outside the handler's own catch ends this
      // request only.
      if (!res.headersSent) send(res, { status: 500, body: { error: { code: 'InternalServerError' } } });
      else res.destroy();
    });
  });
  // Requests Node's parser refuses (a bad request line, a malformed header) get 400 from Node, not a crash.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.keepAliveTimeout = 5000;

  return {
    server,
    async stop() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
