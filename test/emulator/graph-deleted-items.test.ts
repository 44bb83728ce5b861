/**
 * The emulated Graph's deleted items and notes on the wire: a deleted application leaves `/applications` and is in
 * `/directory/deletedItems` with its deletedDateTime (and its notes), until DELETE removes it for good (204, then
 * 404 Request_ResourceNotFound) or `restore` brings it back; `notes` round-trip through PATCH and are refused above
 * 1024 characters. Every answer is checked against Microsoft's type model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, FABRIKAM, GraphRecorder, conformanceProblems, operatorToken } from '../helpers/graph.js';

describe('Graph emulator: notes, tags and deleted items', () => {
  let emu: TestEmulator;
  let rec: GraphRecorder;
  let op: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    rec = new GraphRecorder(emu);
    op = operatorToken(emu, CONTOSO);
  });
  afterAll(async () => emu.close());

  async function createApp(displayName: string): Promise<{ id: string; appId: string }> {
    const r = await rec.call('POST', '/applications', { token: op, json: { displayName } });
    expect(r.status).toBe(201);
    return { id: r.body.id, appId: r.body.appId };
  }

  it('stores notes and tags as PATCH sent them, and refuses notes above 1024 characters', async () => {
    const app = await createApp('Notes and tags');
    const patch = await rec.call('PATCH', `/applications/${app.id}`, {
      token: op,
      json: { notes: 'line one\nline two', tags: ['sendasapp', 'smtp'] },
    });
    expect(patch.status).toBe(204);
    const got = await rec.call('GET', `/applications/${app.id}?$select=id,notes,tags`, { token: op });
    expect(got.body).toMatchObject({ notes: 'line one\nline two', tags: ['sendasapp', 'smtp'] });
    const long = await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { notes: 'x'.repeat(1025) } });
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe('Request_BadRequest');
    const kept = await rec.call('GET', `/applications/${app.id}?$select=notes`, { token: op });
    expect(kept.body.notes).toBe('line one\nline two');
  });

  it('a deleted application is in deleted items until it is removed for good', async () => {
    const app = await createApp('Soon deleted');
    await rec.call('PATCH', `/applications/${app.id}`, { token: op, json: { notes: 'kept with it' } });
    expect((await rec.call('DELETE', `/applications/${app.id}`, { token: op })).status).toBe(204);
    expect((await rec.call('GET', `/applications/${app.id}`, { token: op })).status).toBe(404);
    const item = await rec.call('GET', `/directory/deletedItems/${app.id}`, { token: op });
    expect(item.status).toBe(200);
    expect(item.body).toMatchObject({
      '@odata.type': '#microsoft.graph.application',
      id: app.id,
      appId: app.appId,
      notes: 'kept with it',
      deletedDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const list = await rec.call('GET', '/directory/deletedItems/microsoft.graph.application?$select=id,appId', {
      token: op,
    });
    expect(list.status).toBe(200);
    expect(list.body.value.map((a: { id: string }) => a.id)).toContain(app.id);
    // Another tenant does not see it.
    const other = await rec.call('GET', `/directory/deletedItems/${app.id}`, { token: operatorToken(emu, FABRIKAM) });
    expect(other.status).toBe(404);
    expect((await rec.call('DELETE', `/directory/deletedItems/${app.id}`, { token: op })).status).toBe(204);
    const again = await rec.call('DELETE', `/directory/deletedItems/${app.id}`, { token: op });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('Request_ResourceNotFound');
    expect((await rec.call('GET', `/directory/deletedItems/${app.id}`, { token: op })).status).toBe(404);
  });

  it('restore brings a deleted application back under its id', async () => {
    const app = await createApp('Restored');
    await rec.call('DELETE', `/applications/${app.id}`, { token: op });
    const restored = await rec.call('POST', `/directory/deletedItems/${app.id}/restore`, { token: op });
    expect(restored.status).toBe(200);
    expect(restored.body.deletedDateTime).toBeNull();
    const got = await rec.call('GET', `/applications/${app.id}`, { token: op });
    expect(got.status).toBe(200);
    expect(got.body.appId).toBe(app.appId);
  });

  it('refuses a malformed id and an unknown segment as Graph does', async () => {
    expect((await rec.call('GET', '/directory/deletedItems/not-a-guid', { token: op })).status).toBe(400);
    expect((await rec.call('GET', '/directory/somethingElse', { token: op })).status).toBe(400);
  });

  it('every answer fits the type model', () => {
    const problems = rec.responses.flatMap((r) => conformanceProblems(r));
    expect(problems).toEqual([]);
  });
});
