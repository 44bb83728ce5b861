/** The HTTP dispatcher for fetch-based clients (Graph client, Exchange REST): trusts the profile's extra CA. */
import { Agent } from 'undici';
import type { CloudProfile } from './cloud.js';

export function createDispatcher(profile: CloudProfile): Agent {
  return new Agent({
    keepAliveTimeout: 10_000,
    connections: 16,
    ...(profile.caPem ? { connect: { ca: profile.caPem } } : {}),
  });
}
