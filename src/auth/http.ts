/**
 * The HTTP dispatcher for fetch-based clients (Graph client, Exchange REST): trusts the profile's extra CA, and
 * bounds connecting and waiting for an answer by the per-request timeout (`--timeout`).
 */
import { Agent } from 'undici';
import type { CloudProfile } from './cloud.js';
import { DEFAULT_TIMEOUT_MS } from './network.js';

export function createDispatcher(profile: CloudProfile, o: { timeoutMs?: number } = {}): Agent {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Agent({
    keepAliveTimeout: 10_000,
    // Per origin (Graph, Exchange, the token service each have their own pool in the cloud; the emulator serves all
    // three on one): room for Exchange's width (EXO_MAX_IN_FLIGHT in src/exchange/rest.ts) beside Graph's requests.
    connections: 64,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: timeoutMs, ...(profile.caPem ? { ca: profile.caPem } : {}) },
  });
}
