/**
 * JSON batching on the emulated Graph: the 20-request limit, malformed batches, dependsOn with 424, the throttle
 * knob applied per item, one request-log entry per item (so tests can count writes), and the real Graph client
 * posting a batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, GraphRecorder, conformanceProblems, graphClient, operatorToken } from '../helpers/graph.js';
import { isGraphBatchItem } from '../../src/emulator/graph/index.js';

describe('Graph emulator: JSON $batch', () => {
  let emu: TestEmulator;
  let rec: GraphRecorder;
  let op: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    rec = new GraphRecorder(emu);
    op = operatorToken(emu, CONTOSO);
  });
  afterAll(async () => emu.close());

  const json = { 'Content-Type': 'application/json' };
  const batch = (requests: unknown[]): Promise<Awaited<ReturnType<GraphRecorder['call']>>> =>
    rec.call('POST', '/$batch', { token: op, json: { requests } });

  it('refuses more than 20 requests with Graph’s limit error', async () => {
    const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/applications' }));
    const r = await batch(requests);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({
      code: 'BadRequest',
      message: 'Number of requests inside batch exceed the limit.',
    });
    const twenty = await batch(requests.slice(0, 20));
    expect(twenty.status).toBe(200);
    expect(twenty.body.responses).toHaveLength(20);
  });

  it('refuses malformed batches: empty, duplicate ids, a body without Content-Type, bad JSON', async () => {
    expect((await batch([])).body.error.message).toBe('Invalid batch payload format.');
    const dup = await batch([
      { id: '1', method: 'GET', url: '/applications' },
      { id: '1', method: 'GET', url: '/applications' },
    ]);
    expect(dup.body.error.message).toBe('Request Id 1 has to be unique in a batch.');
    const noType = await batch([{ id: '1', method: 'POST', url: '/applications', body: { displayName: 'x' } }]);
    expect(noType.status).toBe(400);
    expect(noType.body.error.message).toBe('Write request id : 1 does not contain Content-Type header or body.');
    const bad = await rec.call('POST', '/$batch', { token: op, body: '{"requests": [', headers: json });
    expect(bad.status).toBe(400);
    const get = await rec.call('GET', '/$batch', { token: op });
    expect(get.status).toBe(405);
  });

  it('runs dependsOn in order and answers 424 for an item whose dependency failed; the batch itself is 200', async () => {
    const r = await batch([
      { id: 'bad', method: 'POST', url: '/applications', headers: json, body: { displayName: 5 } },
      { id: 'after-bad', dependsOn: ['bad'], method: 'GET', url: '/applications?$top=1' },
      {
        id: 'create',
        method: 'PATCH',
        url: "/applications(uniqueName='batch-upsert')",
        headers: { ...json, Prefer: 'create-if-missing' },
        body: { displayName: 'batch upsert' },
      },
      {
        id: 'update',
        dependsOn: ['create'],
        method: 'PATCH',
        url: "/applications(uniqueName='batch-upsert')",
        headers: { ...json, Prefer: 'create-if-missing' },
        body: { displayName: 'batch upsert 2' },
      },
      {
        id: 'read',
        dependsOn: ['update'],
        method: 'GET',
        url: "applications(uniqueName='batch-upsert')?$select=id,displayName",
      },
    ]);
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(r.body.responses.map((x: { id: string }) => [x.id, x]));
    expect(r.body.responses.map((x: { id: string }) => x.id)).toEqual(['bad', 'after-bad', 'create', 'update', 'read']);
    expect(byId.bad.status).toBe(400);
    expect(byId['after-bad'].status).toBe(424);
    expect(byId.create.status).toBe(201);
    expect(byId.create.body.uniqueName).toBe('batch-upsert');
    expect(byId.update.status).toBe(204);
    expect(byId.update.body).toBeUndefined();
    expect(byId.read.status).toBe(200);
    expect(byId.read.body.displayName).toBe('batch upsert 2');
    expect(byId.read.headers['Content-Type']).toMatch(/^application\/json/);
  });

  it('applies the throttle knob to each item: 429 with Retry-After inside the item, others succeed', async () => {
    // Setting faults resets the call counters: the batch request is call 1, its items calls 2..6.
    await emu.control.setKnobs({ throttle: { every: 3, retryAfterSeconds: 2, services: ['graph'] }, faults: [] });
    try {
      const r = await batch(
        Array.from({ length: 5 }, (_, i) => ({ id: `${i}`, method: 'GET', url: '/applications?$top=1' })),
      );
      expect(r.status).toBe(200);
      const statuses = r.body.responses.map((x: { status: number }) => x.status);
      expect(statuses).toEqual([200, 429, 200, 200, 429]);
      const throttled = r.body.responses[1];
      expect(throttled.headers['Retry-After']).toBe('2');
      expect(throttled.body.error.code).toBe('TooManyRequests');
    } finally {
      await emu.control.setKnobs({ throttle: { every: 0, retryAfterSeconds: 1, services: ['graph', 'exchange'] } });
    }
  });

  it('logs the envelope once (no write) and one #item entry per item, so writes inside a batch can be counted', async () => {
    await emu.control.clearLog();
    await batch([
      { id: '1', method: 'POST', url: '/applications', headers: json, body: { displayName: 'log 1' } },
      { id: '2', method: 'POST', url: '/applications', headers: json, body: { displayName: 'log 2' } },
      { id: '3', method: 'GET', url: '/applications?$top=1' },
    ]);
    const log = await emu.control.log({ service: 'graph' });
    const items = log.filter((e) => isGraphBatchItem(e));
    expect(items.map((e) => [e.method, e.path, e.status, e.write])).toEqual([
      ['POST', '/v1.0/applications#item', 201, true],
      ['POST', '/v1.0/applications#item', 201, true],
      ['GET', '/v1.0/applications#item', 200, false],
    ]);
    expect(log.filter((e) => e.write)).toHaveLength(2);
    const envelope = log.filter((e) => !isGraphBatchItem(e));
    expect(envelope.map((e) => e.path)).toEqual(['/v1.0/$batch']);
    expect(envelope[0]!.write).toBe(false);
    expect(items.every((e) => e.tenantId === emu.endpoints.tenants[0]!.id)).toBe(true);
  });

  it('accepts a batch posted with the real Graph client', async () => {
    const client = graphClient(emu, op);
    const res = await client.api('/$batch').post({
      requests: [
        { id: 'a', method: 'GET', url: "/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')?$select=id" },
        { id: 'b', method: 'GET', url: '/applications/not-a-guid' },
      ],
    });
    expect(res.responses[0].status).toBe(200);
    expect(res.responses[1].status).toBe(400);
    expect(res.responses[1].body.error.message).toBe("Invalid object identifier 'not-a-guid'.");
  });

  it('every answer and batch item conforms to the type model and the documented error shape', () => {
    const problems = rec.responses.flatMap((r) => conformanceProblems(r));
    expect(problems).toEqual([]);
  });
});
