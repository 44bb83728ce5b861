/**
 * Test helper: an emulator on free ports in a temp dir, a control client, and a fetch that trusts its CA.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import {
  EmulatorControlClient,
  startEmulator,
  type EmulatorOptions,
  type RunningEmulator,
} from '../../src/emulator/index.js';

export interface TestEmulator extends RunningEmulator {
  control: EmulatorControlClient;
  ca: string;
  dispatcher: Agent;
  /** fetch against the emulator (CA trusted). `path` may be absolute or relative to authorityHost. */
  request(path: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestEmulator(options: EmulatorOptions = {}): Promise<TestEmulator> {
  const emu = await startEmulator({ port: 0, ...options });
  const ca = readFileSync(emu.endpoints.caFile, 'utf8');
  const dispatcher = new Agent({ connect: { ca } });
  const control = new EmulatorControlClient(emu.endpoints);
  return {
    ...emu,
    control,
    ca,
    dispatcher,
    request(path, init = {}) {
      const url = /^https:/.test(path) ? path : `${emu.endpoints.authorityHost}${path}`;
      const headers = new Headers(init.headers);
      if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
      }
      return fetch(url, { ...init, headers, body, dispatcher } as RequestInit);
    },
    async close() {
      await control.close();
      await dispatcher.close();
      await emu.stop();
    },
  };
}

/** startTestEmulator, with the ids of the default world's two tenants (contoso and fabrikam). */
export async function startWithTenantIds(
  options: EmulatorOptions = {},
): Promise<{ emu: TestEmulator; contosoId: string; fabrikamId: string }> {
  const emu = await startTestEmulator(options);
  const id = (domain: string): string => emu.store.findTenant(domain)!.id;
  return { emu, contosoId: id('contoso.onmicrosoft.com'), fabrikamId: id('fabrikam.onmicrosoft.com') };
}
