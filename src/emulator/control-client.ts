/**
 * A small client for the emulator's control endpoint, for tests, benchmarks and `demo`.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import type { RequestLogEntry } from './store.js';
import type { Knobs, StoredMessage, TenantPolicy } from './state.js';
import type { KnobsPatch } from './knobs.js';

export interface EndpointsLike {
  controlUrl: string;
  caFile: string;
  operator: { clientSecret: string };
}

export class EmulatorControlClient {
  private readonly dispatcher: Agent;

  constructor(private readonly endpoints: EndpointsLike) {
    this.dispatcher = new Agent({ connect: { ca: readFileSync(endpoints.caFile, 'utf8') } });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.endpoints.controlUrl}${path}`, {
      method,
      headers: { 'X-Emulator-Key': this.endpoints.operator.clientSecret, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.dispatcher,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator control ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async log(filter: { since?: number; service?: string } = {}): Promise<RequestLogEntry[]> {
    const q = new URLSearchParams();
    if (filter.since) q.set('since', String(filter.since));
    if (filter.service) q.set('service', filter.service);
    return (await this.call<{ value: RequestLogEntry[] }>('GET', `/log?${q}`)).value;
  }

  clearLog(): Promise<void> {
    return this.call('DELETE', '/log');
  }

  // The dump is loosely typed on purpose: tests read it as Microsoft's objects plus the emulator's fields.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tenant(idOrDomain: string): Promise<any> {
    return this.call('GET', `/state/${encodeURIComponent(idOrDomain)}`);
  }

  knobs(): Promise<Knobs> {
    return this.call('GET', '/knobs');
  }

  setKnobs(patch: KnobsPatch): Promise<Knobs> {
    return this.call('PATCH', '/knobs', patch);
  }

  setPolicy(tenant: string, policy: Partial<TenantPolicy>): Promise<TenantPolicy> {
    return this.call('PATCH', `/tenants/${encodeURIComponent(tenant)}/policy`, policy);
  }

  /**
   * Seeds an Exchange service principal registration as Exchange accepted it before it validated object ids (for
   * example one made with the app registration's object id), so that the repair path can be tested.
   */
  seedLegacyExchangeServicePrincipal(
    tenant: string,
    registration: { appId: string; objectId: string; displayName?: string },
  ): Promise<unknown> {
    return this.call('POST', `/tenants/${encodeURIComponent(tenant)}/exchange-service-principals`, registration);
  }

  async messages(address: string): Promise<StoredMessage[]> {
    return (await this.call<{ value: StoredMessage[] }>('GET', `/mailboxes/${encodeURIComponent(address)}/messages`))
      .value;
  }

  async pendingDeviceCodes(): Promise<Array<{ userCode: string; clientId: string; tenant: string; scope: string }>> {
    return (
      await this.call<{ value: Array<{ userCode: string; clientId: string; tenant: string; scope: string }> }>(
        'GET',
        '/device-codes',
      )
    ).value;
  }

  approveDeviceCode(userCode: string, user: string): Promise<unknown> {
    return this.call('POST', '/device-codes/approve', { userCode, user });
  }

  reset(): Promise<void> {
    return this.call('POST', '/reset');
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
