/**
 * Test helper: an HTTPS proxy in front of the emulator that throttles what goes through it — every Nth Graph or
 * Exchange request is answered 429 with Retry-After, in each service's own error shape (the emulator's), the rest
 * forwarded. Pointing one tenant's endpoints file at it throttles that tenant alone (the emulator's own throttle
 * knob counts the calls of all tenants). Its TLS certificate is issued by the emulator's CA, so clients that trust
 * the emulator trust it.
 */
import { createServer, type Server } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Agent, request } from 'undici';
import { loadOrCreatePki } from '../../src/emulator/pki.js';
import { simpleError } from '../../src/emulator/exchange/wire.js';
import { EXCHANGE_ERROR_KINDS } from '../../src/emulator/exchange/errors.js';
import type { TestEmulator } from './emulator.js';

export interface ThrottleProxy {
  /** An endpoints file whose Graph and Exchange URLs go through the proxy (token and SMTP go straight). */
  endpointsFile: string;
  /** Requests answered 429, by service. */
  readonly throttled: { graph: number; exchange: number };
  /** The path of every request that came through. */
  readonly paths: string[];
  close(): Promise<void>;
}

export async function startThrottleProxy(
  emu: TestEmulator,
  o: { every: number; retryAfterSeconds: number; dir: string },
): Promise<ThrottleProxy> {
  const pki = loadOrCreatePki(emu.stateDir, ['127.0.0.1']);
  const upstream = new URL(emu.endpoints.authorityHost);
  const agent = new Agent({ connect: { ca: emu.ca } });
  const counts = { graph: 0, exchange: 0 };
  const throttled = { graph: 0, exchange: 0 };
  const paths: string[] = [];
  const server: Server = createServer({ key: pki.tlsKeyPem, cert: pki.tlsCertPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url!);
      void (async () => {
        const service = req.url!.startsWith('/v1.0')
          ? 'graph'
          : req.url!.startsWith('/adminapi')
            ? 'exchange'
            : undefined;
        if (service && ++counts[service] % o.every === 0) {
          throttled[service]++;
          const retryAfter = String(o.retryAfterSeconds);
          if (service === 'exchange') {
            const r = simpleError(
              EXCHANGE_ERROR_KINDS.throttled,
              `The request was throttled by the server. Retry after ${retryAfter} seconds.`,
            );
            res.writeHead(r.status, { ...r.headers, 'Retry-After': retryAfter });
            res.end(JSON.stringify(r.body));
          } else {
            res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': retryAfter });
            res.end(
              JSON.stringify({
                error: {
                  code: 'TooManyRequests',
                  message: 'Too many requests.',
                  innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': crypto.randomUUID() },
                },
              }),
            );
          }
          return;
        }
        const headers = { ...req.headers };
        delete headers.host;
        delete headers.connection;
        const r = await request(new URL(req.url!, upstream), {
          method: req.method as 'GET',
          headers: headers as Record<string, string>,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
          dispatcher: agent,
        });
        const out = Buffer.from(await r.body.arrayBuffer());
        const h = { ...r.headers };
        delete h['transfer-encoding'];
        delete h.connection;
        res.writeHead(r.statusCode, h as Record<string, string>);
        res.end(out);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `https://localhost:${(server.address() as AddressInfo).port}`;
  const endpoints = JSON.parse(readFileSync(emu.endpointsFile, 'utf8')) as Record<string, unknown>;
  const endpointsFile = path.join(o.dir, 'throttled-endpoints.json');
  writeFileSync(
    endpointsFile,
    JSON.stringify({ ...endpoints, graphBaseUrl: `${base}/v1.0`, exchangeAdminUrl: `${base}/adminapi/beta` }),
  );
  return {
    endpointsFile,
    throttled,
    paths,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await agent.close();
    },
  };
}
