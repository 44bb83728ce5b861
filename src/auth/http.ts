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
    connections: 16,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: timeoutMs, ...(profile.caPem ? { ca: profile.caPem } : {}) },
  });
}
