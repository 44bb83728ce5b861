/**
 * App identity against the tenant, in process: two display names that differ make two apps (names that collided
 * under sendasapp 0.1's key included); an app made under the 0.1 key with exactly this display name is adopted
 * under that key (note 'legacy-key'), one with another display name is left alone; an app under our key whose
 * display name was changed in the portal stops the run with nothing written, naming --app-name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { legacyUniqueNameFor, uniqueNameFor } from '../../src/entra/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { registerApp } from '../helpers/azure.js';
import { CONTOSO, appsBesidesOperator, noteCodes, readJson, tempDir } from '../helpers/e2e.js';
import { runTenant, type RunFlags } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('app identity in the tenant', () => {
  let emu: TestEmulator;
  let dir: string;
  const sinkOf = (name: string): string => path.join(dir, `${Buffer.from(name).toString('hex')}.json`);
  const flags = (appName: string, extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName,
    secretOut: sinkOf(appName),
    enableSmtpAuth: 'mailbox',
    ...extra,
  });
  const appsNamed = async (displayName: string): Promise<any[]> =>
    appsBesidesOperator(emu, await emu.control.tenant(CONTOSO)).filter((a: any) => a.displayName === displayName);

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-identity-');
  });
  afterAll(async () => emu?.close());

  it('"Финансы" and "Продажи" (one 0.1 key) make two apps, and the second run leaves the first alone', async () => {
    expect(legacyUniqueNameFor('Финансы')).toBe(legacyUniqueNameFor('Продажи'));
    const first = await runTenant(emu, flags('Финансы', { mailbox: [SCANNER] }), 'prove');
    expect(first.result.outcome, JSON.stringify(first.result.failure)).toBe('ok');
    const before = (await appsNamed('Финансы'))[0];
    const second = await runTenant(emu, flags('Продажи', { mailbox: [AP] }), 'prove');
    expect(second.result.outcome, JSON.stringify(second.result.failure)).toBe('ok');
    expect(second.result.application.appId).not.toBe(first.result.application.appId);

    const fin = await appsNamed('Финансы');
    const sales = await appsNamed('Продажи');
    expect(fin.map((a) => a.uniqueName)).toEqual([uniqueNameFor('Финансы')]);
    expect(sales.map((a) => a.uniqueName)).toEqual([uniqueNameFor('Продажи')]);
    // The second run wrote nothing to the first app: same name, same secret, same permissions.
    expect(fin[0]).toEqual(before);
    expect(second.writes.filter((w) => w.path.includes(fin[0].id))).toEqual([]);
    // And each secret proves only for its own app.
    expect(readJson(sinkOf('Финансы')).clientId).toBe(first.result.application.appId);
    expect(readJson(sinkOf('Продажи')).clientId).toBe(second.result.application.appId);
    expect(first.result.verification?.status).toBe('passed');
    expect(second.result.verification?.status).toBe('passed');
  });

  it('"Scanner SMTP" and "scanner-smtp!!" are two apps', async () => {
    const a = await runTenant(emu, flags('Scanner SMTP'), 'apply');
    const b = await runTenant(emu, flags('scanner-smtp!!'), 'apply');
    expect([a.result.outcome, b.result.outcome]).toEqual(['ok', 'ok']);
    expect(a.result.application.uniqueName).toBe(uniqueNameFor('Scanner SMTP'));
    expect(b.result.application.uniqueName).toBe(uniqueNameFor('scanner-smtp!!'));
    expect((await appsNamed('Scanner SMTP')).map((x) => x.appId)).toEqual([a.result.application.appId]);
    expect((await appsNamed('scanner-smtp!!')).map((x) => x.appId)).toEqual([b.result.application.appId]);
  });

  it('an app made by 0.1 under the old key with this display name is adopted, not renamed, not duplicated', async () => {
    const name = 'Legacy Scanner';
    const old = registerApp(emu, { home: CONTOSO, displayName: name, signInAudience: 'AzureADMyOrg' });
    old.app.entity.uniqueName = legacyUniqueNameFor(name);
    emu.store.changed();
    const r = await runTenant(emu, flags(name), 'apply');
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    expect(r.result.application.appId).toBe(old.appId);
    expect(noteCodes(r.result)).toContain('legacy-key');
    const apps = await appsNamed(name);
    expect(apps).toHaveLength(1);
    expect(apps[0].uniqueName).toBe(legacyUniqueNameFor(name));
    expect(apps[0].appId).toBe(old.appId);
    // No app was made under the new key.
    const t = await emu.control.tenant(CONTOSO);
    expect(t.applications.filter((a: any) => a.uniqueName === uniqueNameFor(name))).toEqual([]);
    // A rerun keeps it, writes nothing, and still says why the key is the old one.
    const again = await runTenant(emu, flags(name), 'apply');
    expect(again.result.changed).toBe(false);
    expect(again.writes).toEqual([]);
    expect(noteCodes(again.result)).toContain('legacy-key');
  });

  it('an app under the 0.1 key with another display name is not touched: a new app is made', async () => {
    // 0.1 made "Billing SMTP" → sendasapp-billing-smtp; "billing-smtp!!" had the same 0.1 key.
    const other = registerApp(emu, { home: CONTOSO, displayName: 'Billing SMTP', signInAudience: 'AzureADMyOrg' });
    other.app.entity.uniqueName = legacyUniqueNameFor('Billing SMTP');
    emu.store.changed();
    expect(legacyUniqueNameFor('billing-smtp!!')).toBe(other.app.entity.uniqueName);
    const before = structuredClone(other.app.entity);
    const r = await runTenant(emu, flags('billing-smtp!!'), 'apply');
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    expect(r.result.application.appId).not.toBe(other.appId);
    expect(r.result.application.uniqueName).toBe(uniqueNameFor('billing-smtp!!'));
    expect(noteCodes(r.result)).not.toContain('legacy-key');
    expect(emu.store.applicationByAppId(other.appId)!.entity).toEqual(before);
    expect(r.writes.filter((w) => w.path.includes(other.app.entity.id))).toEqual([]);
  });

  it('our app renamed in the portal: bad input naming --app-name and the fix, nothing written', async () => {
    const name = 'Renamed Later';
    const made = await runTenant(emu, flags(name), 'apply');
    expect(made.result.outcome).toBe('ok');
    const app = emu.store.applicationByAppId(made.result.application.appId!)!;
    app.entity.displayName = 'Renamed In The Portal';
    emu.store.changed();
    const r = await runTenant(emu, flags(name), 'apply');
    expect(r.result.outcome).toBe('bad-input');
    expect(r.result.failure).toMatchObject({ kind: 'input', field: '--app-name', key: 'entra.application' });
    expect(r.result.failure!.message).toContain(`is named "Renamed In The Portal", not "${name}"`);
    expect(r.result.failure!.message).toContain('--app-name "Renamed In The Portal"');
    expect(r.writes).toEqual([]);
    expect(app.entity.displayName).toBe('Renamed In The Portal');
  });
});
