/**
 * Fuzzing the emulated Graph with a few hundred random requests from a seeded PRNG (reproducible; override with
 * GRAPH_FUZZ_SEED): random methods, paths, OData keys and query options, malformed JSON, unknown and wrongly typed
 * properties, huge strings, unicode, random batches. No answer may be a 5xx, every answer must be Graph-shaped, the
 * server must keep answering, and the directory must stay consistent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { prng } from '../helpers/prng.js';
import {
  CONTOSO,
  EXCHANGE_APP_ID,
  GraphRecorder,
  conformanceProblems,
  loadTypeModel,
  operatorToken,
} from '../helpers/graph.js';

const SEED = Number(process.env.GRAPH_FUZZ_SEED ?? 20_260_611);
const REQUESTS = Number(process.env.GRAPH_FUZZ_REQUESTS ?? 400);

describe(`Graph emulator fuzz (seed ${SEED}, ${REQUESTS} requests, contoso)`, () => {
  let emu: TestEmulator;
  let rec: GraphRecorder;
  let op: string;
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number): boolean => rand() < p;
  const pool = {
    ids: [] as string[],
    appIds: [] as string[],
    spIds: [] as string[],
    uniqueNames: [] as string[],
    assignments: [] as string[],
  };

  beforeAll(async () => {
    emu = await startTestEmulator();
    rec = new GraphRecorder(emu);
    op = operatorToken(emu, CONTOSO);
    for (let i = 0; i < 3; i++) {
      const app = await rec.call('POST', '/applications', {
        token: op,
        json: { displayName: `fuzz seed ${i}`, uniqueName: `fuzz-${i}`, signInAudience: 'AzureADMultipleOrgs' },
      });
      pool.ids.push(app.body.id);
      pool.appIds.push(app.body.appId);
      pool.uniqueNames.push(`fuzz-${i}`);
      const sp = await rec.call('POST', '/servicePrincipals', { token: op, json: { appId: app.body.appId } });
      pool.spIds.push(sp.body.id);
    }
    const exo = await rec.call('GET', `/servicePrincipals(appId='${EXCHANGE_APP_ID}')`, { token: op });
    pool.spIds.push(exo.body.id);
    pool.appIds.push(EXCHANGE_APP_ID);
  });
  afterAll(async () => emu.close());

  const model = loadTypeModel();
  const appProps = Object.keys(model.types.application!.properties!);
  const spProps = Object.keys(model.types.servicePrincipal!.properties!);

  const UNICODE = [
    'ünïcødé',
    '名前',
    '🚀📨',
    'שלום',
    '\u0000nul',
    '\ud800lone',
    'a\u202Eb',
    "o'quote",
    '%25',
    '../..',
    '<script>',
  ];

  /** encodeURIComponent that survives lone surrogates (they are part of the fuzz alphabet). */
  function enc(s: string): string {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, (c) => `%${c.charCodeAt(0).toString(16)}`));
  }

  function randomString(): string {
    const r = rand();
    if (r < 0.1) return 'x'.repeat(Math.floor(rand() * 300_000));
    if (r < 0.4) return pick(UNICODE) + Math.floor(rand() * 1000);
    if (r < 0.6) return crypto.randomUUID();
    return Math.random().toString(36).slice(2);
  }

  function randomValue(depth = 0): unknown {
    const r = rand();
    if (r < 0.15) return null;
    if (r < 0.3) return rand() * 1e12 - 5e11;
    if (r < 0.4) return chance(0.5);
    if (r < 0.65) return randomString();
    if (r < 0.8 && depth < 3) return Array.from({ length: Math.floor(rand() * 3) }, () => randomValue(depth + 1));
    if (depth < 3)
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 3) }, () => [
          pick([...appProps, 'id', 'key', randomString()]),
          randomValue(depth + 1),
        ]),
      );
    return 1;
  }

  function id(): string {
    return pick([...pool.ids, ...pool.spIds, crypto.randomUUID(), 'not-a-guid', '', "'", '%ZZ', '名前', '..']);
  }

  function key(kind: 'app' | 'sp'): string {
    const r = rand();
    if (r < 0.4)
      return `/${pick(kind === 'app' ? [...pool.ids, crypto.randomUUID()] : [...pool.spIds, crypto.randomUUID()])}`;
    if (r < 0.6) return `(appId='${pick([...pool.appIds, randomString().slice(0, 40)])}')`;
    if (r < 0.75) return `(uniqueName='${pick([...pool.uniqueNames, `fuzz-new-${Math.floor(rand() * 5)}`])}')`;
    if (r < 0.85) return `('${pick([...pool.ids, ...pool.spIds])}')`;
    return pick([`/${id()}`, "(appId=')", '(foo=1)', "(appId='a'", '()', `(${enc(randomString().slice(0, 20))})`]);
  }

  function path(): string {
    const r = rand();
    if (r < 0.15) return '/applications';
    if (r < 0.3) return `/applications${key('app')}`;
    if (r < 0.4)
      return `/applications${key('app')}/${pick(['addPassword', 'removePassword', 'microsoft.graph.addPassword', 'owners', 'x'])}`;
    if (r < 0.5) return '/servicePrincipals';
    if (r < 0.62) return `/servicePrincipals${key('sp')}`;
    if (r < 0.75)
      return `/servicePrincipals/${pick(pool.spIds)}/${pick(['appRoleAssignedTo', 'appRoleAssignments'])}${chance(0.4) ? `/${pick([...pool.assignments, id()])}` : ''}`;
    if (r < 0.8) return pick(['/organization', '/domains', `/domains/${CONTOSO}`, `/organization/${id()}`]);
    if (r < 0.85) return '/$batch';
    return pick([
      '/',
      '/me',
      '/applications/',
      `/${enc(randomString().slice(0, 30))}`,
      '/applications%ZZ',
      '/servicePrincipals(',
      "/applications(appId='x')/addPassword/extra",
    ]);
  }

  /** A method the path answers to (most requests should get past routing into the handlers). */
  function fittingMethod(p: string): string {
    if (p === '/$batch' || /Password$/.test(p)) return 'POST';
    if (/^\/(applications|servicePrincipals)$/.test(p) || /appRoleAssign(edTo|ments)$/.test(p))
      return pick(['GET', 'POST', 'POST']);
    if (/^\/(organization|domains)/.test(p)) return 'GET';
    return pick(['GET', 'PATCH', 'PATCH', 'DELETE']);
  }

  function query(): string {
    if (chance(0.6)) return '';
    const opts = [
      `$filter=${enc(pick([`appId eq '${pick(pool.appIds)}'`, `displayName eq '${randomString().slice(0, 50)}'`, "startswith(displayName,'fuzz')", "uniqueName in ('fuzz-0','fuzz-1')", 'notes eq 1', "displayName ne 'x'", "contains(displayName,'a')", "appId eq '", '((', randomString().slice(0, 100)]))}`,
      `$select=${pick(['id,displayName', 'keyCredentials', 'nope', '', pick(appProps), pick(spProps)])}`,
      `$top=${pick(['1', '2', '0', '1000', '-1', 'x', '999'])}`,
      `$skiptoken=${pick(['RFNwdAIAeyJvIjoxfQ', 'junk', 'RFNwdAIA!!'])}`,
      `$count=${pick(['true', 'false', 'maybe'])}`,
      pick(['$expand=owners', '$orderby=displayName', '$bogus=1', 'api-version=1.6']),
    ];
    return `?${Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(opts)).join('&')}`;
  }

  function objectBody(p: string): Record<string, unknown> {
    const props = p.startsWith('/servicePrincipals') ? spProps : appProps;
    const body: Record<string, unknown> = {};
    if (chance(0.6)) body.displayName = chance(0.8) ? `fuzz ${randomString().slice(0, 40)}` : randomValue();
    if (p.includes('servicePrincipals') && chance(0.6)) body.appId = pick(pool.appIds);
    if (p.includes('appRole') && chance(0.8)) {
      body.principalId = pick([...pool.spIds, crypto.randomUUID()]);
      body.resourceId = pick(pool.spIds);
      body.appRoleId = pick(['7146a1f0-8703-45b3-9eae-527a64c00995', crypto.randomUUID(), 'x']);
    }
    if (p.includes('Password'))
      body[pick(['passwordCredential', 'keyId', 'secret'])] = chance(0.5)
        ? { displayName: 'p', endDateTime: pick(['2030-01-01T00:00:00Z', 'soon', '1999-01-01']) }
        : randomValue();
    for (let i = Math.floor(rand() * 3); i > 0; i--)
      body[pick([...props, randomString().slice(0, 30), '__proto__', 'constructor'])] = randomValue();
    if (chance(0.2)) body.uniqueName = pick([...pool.uniqueNames, `fuzz-new-${Math.floor(rand() * 5)}`]);
    return body;
  }

  function batchBody(): unknown {
    if (chance(0.2)) return randomValue();
    const n = pick([0, 1, 3, 5, 20, 21]);
    return {
      requests: Array.from({ length: n }, (_, i) => {
        const p = path().replace('/$batch', '/applications');
        const item: Record<string, unknown> = {
          id: chance(0.9) ? String(i) : '0',
          method: pick(['GET', 'POST', 'PATCH', 'DELETE', 'TRACE']),
          url: p + query(),
        };
        if (chance(0.5)) {
          item.body = objectBody(p);
          if (chance(0.9))
            item.headers = {
              'Content-Type': 'application/json',
              ...(chance(0.3) ? { Prefer: 'create-if-missing' } : {}),
            };
        }
        if (i > 0 && chance(0.3)) item.dependsOn = [String(Math.floor(rand() * i)), ...(chance(0.1) ? ['nope'] : [])];
        return item;
      }),
    };
  }

  it('answers every random request without a 5xx, with JSON bodies in Graph’s shapes', async () => {
    const fiveHundreds: string[] = [];
    const shapes: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const p = path();
      const method = chance(0.25) ? pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT']) : fittingMethod(p);
      const headers: Record<string, string> = {};
      if (chance(0.3)) headers.Prefer = 'create-if-missing';
      let body: string | undefined;
      if (method !== 'GET' && method !== 'DELETE' && chance(0.9)) {
        headers['Content-Type'] = 'application/json';
        const r = rand();
        if (r < 0.1) body = pick(['{', '{"displayName": }', 'null', '[]', '"x"', '12', '{"a":1}}', '\u0000', '']);
        else body = JSON.stringify(p === '/$batch' ? batchBody() : objectBody(p));
      }
      const token = chance(0.93) ? op : pick([undefined, 'garbage', `${op.slice(0, -4)}AAAA`]);
      const res = await rec.call(method, `${p}${query()}`, { token, body, headers });
      if (res.status >= 500) fiveHundreds.push(`${method} ${p} -> ${res.status} ${JSON.stringify(res.body)}`);
      shapes.push(...conformanceProblems(res).map((x) => `${method} ${x}`));
      if (method === 'POST' && res.status === 201 && res.body?.appId && p === '/applications') {
        pool.ids.push(res.body.id);
        pool.appIds.push(res.body.appId);
      }
      if (res.status === 201 && typeof res.body?.id === 'string' && p.includes('appRole'))
        pool.assignments.push(res.body.id);
      if (res.status === 201 && p.startsWith('/servicePrincipals') && !p.includes('appRole'))
        pool.spIds.push(res.body.id);
    }
    expect(fiveHundreds).toEqual([]);
    expect(shapes).toEqual([]);
    const statuses = new Set(rec.responses.map((r) => r.status));
    for (const s of [200, 201, 204, 400, 401, 404]) expect(statuses, `status ${s} never seen`).toContain(s);
  });

  it('keeps answering afterwards', async () => {
    const r = await rec.call('GET', '/applications?$top=5', { token: op });
    expect(r.status).toBe(200);
  });

  it('leaves the directory consistent: SPs backed, grants resolvable, keys unique, secrets matching credentials', () => {
    const { world } = emu.store;
    const problems: string[] = [];
    const appIds = new Set<string>();
    const objectIds = new Set<string>();
    for (const a of world.applications) {
      if (appIds.has(a.entity.appId)) problems.push(`duplicate appId ${a.entity.appId}`);
      if (objectIds.has(a.entity.id)) problems.push(`duplicate id ${a.entity.id}`);
      appIds.add(a.entity.appId);
      objectIds.add(a.entity.id);
      const creds = new Set(a.entity.passwordCredentials.map((c) => c.keyId));
      const secrets = new Set(a.secrets.map((s) => s.keyId));
      if ([...creds].some((k) => !secrets.has(k)) || [...secrets].some((k) => !creds.has(k)))
        problems.push(`app ${a.entity.id}: secrets and passwordCredentials differ`);
      if (!world.tenants.some((t) => t.id === a.homeTenantId)) problems.push(`app ${a.entity.id}: no home tenant`);
    }
    for (const t of world.tenants) {
      const uniqueNames = world.applications
        .filter((a) => a.homeTenantId === t.id && a.entity.uniqueName)
        .map((a) => a.entity.uniqueName!.toLowerCase());
      if (new Set(uniqueNames).size !== uniqueNames.length) problems.push(`${t.domains[0]}: uniqueName not unique`);
      const spIds = new Set(t.servicePrincipals.map((s) => s.entity.id));
      const spAppIds = t.servicePrincipals.map((s) => s.entity.appId);
      if (new Set(spAppIds).size !== spAppIds.length)
        problems.push(`${t.domains[0]}: two service principals for one appId`);
      for (const s of t.servicePrincipals)
        if (!s.firstParty && !appIds.has(s.entity.appId))
          problems.push(`${t.domains[0]}: SP ${s.entity.id} has no application`);
      const principals = new Set([...spIds, ...t.users.map((u) => u.entity.id), ...t.groups.map((g) => g.entity.id)]);
      for (const a of t.appRoleAssignments) {
        if (!principals.has(a.entity.principalId))
          problems.push(`${t.domains[0]}: assignment ${a.entity.id} without principal`);
        if (!spIds.has(a.entity.resourceId))
          problems.push(`${t.domains[0]}: assignment ${a.entity.id} without resource`);
      }
    }
    expect(problems).toEqual([]);
    expect(() => JSON.stringify(world)).not.toThrow();
  });

  it('still serves every stored application and service principal conformantly', async () => {
    const tenant = emu.store.findTenant(CONTOSO)!;
    const answers = [];
    for (const a of emu.store.world.applications.filter((x) => x.homeTenantId === tenant.id))
      answers.push(await rec.call('GET', `/applications/${a.entity.id}`, { token: op }));
    for (const s of tenant.servicePrincipals)
      answers.push(await rec.call('GET', `/servicePrincipals/${s.entity.id}`, { token: op }));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(answers.flatMap((r) => conformanceProblems(r))).toEqual([]);
  });
});
