/**
 * Exchange Online throttles admin requests by operations running at once (PowerShellMaxCmdletQueueDepth, 50 per
 * user): the emulator refuses the request past its limit with 429 and Retry-After, and the REST backend never has
 * more than EXO_MAX_IN_FLIGHT of one tenant on the wire, so many mailboxes at once are not throttled.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import { EXO_MAX_IN_FLIGHT } from '../../src/exchange/rest.js';
import { contosoId, exchangeToken, makeRest } from './scenario.js';

describe('Exchange requests in flight', () => {
  let emu: TestEmulator;

  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());
  beforeEach(async () => {
    await emu.control.setKnobs({
      exchangeLimits: defaultKnobs().exchangeLimits,
      latency: { ...defaultKnobs().latency, exchange: 0 },
    });
    await emu.control.clearLog();
  });

  it('the emulator answers the request past the limit of one organization 429 with Retry-After', async () => {
    await emu.control.setKnobs({
      exchangeLimits: { concurrentRequestsPerTenant: 2 },
      latency: { ...defaultKnobs().latency, exchange: 300 },
    });
    const token = exchangeToken(emu);
    const call = () =>
      emu.request(`/adminapi/beta/${contosoId(emu)}/InvokeCommand`, {
        method: 'POST',
        token,
        json: { CmdletInput: { CmdletName: 'Get-OrganizationConfig', Parameters: {} } },
      });
    const answers = await Promise.all([call(), call(), call()]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Once the others are answered, the organization has its places back.
    expect((await call()).status).toBe(200);
  });

  it('the REST backend keeps to the default limit with more calls than places, none throttled', async () => {
    const limit = defaultKnobs().exchangeLimits.concurrentRequestsPerTenant;
    expect(EXO_MAX_IN_FLIGHT).toBeLessThanOrEqual(limit);
    await emu.control.setKnobs({ latency: { ...defaultKnobs().latency, exchange: 150 } });
    // No retries: a 429 would come back as a throttled ExchangeError.
    const exo = makeRest(emu, { retryDeadlineMs: 0 });
    const calls = limit + 30;
    const rows = await Promise.all(Array.from({ length: calls }, () => exo.invoke('Get-OrganizationConfig')));
    expect(rows).toHaveLength(calls);
    const log = (await emu.control.log({ service: 'exchange' })).filter((e) => e.path.endsWith('/InvokeCommand'));
    expect(log).toHaveLength(calls);
    expect(log.every((e) => e.status === 200)).toBe(true);
  });
});
