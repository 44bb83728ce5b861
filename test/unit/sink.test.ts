/**
 * The credential sink on the file system: writes that never follow a planted link and leave the file 0600, and
 * the preflight's read-only check that refuses every sink a credential must not go to.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CredentialSink,
  HANDOFF_TARGETS,
  inspectSink,
  renderHandoff,
  type HandoffFacts,
  type SinkFile,
} from '../../src/handoff/index.js';

const TENANT = '11111111-1111-1111-1111-111111111111';
const APP = '22222222-2222-2222-2222-222222222222';
const OTHER = '33333333-3333-3333-3333-333333333333';

const secret = {
  type: 'secret' as const,
  keyId: 'k1',
  secret: 'the-secret-value-0123456789',
  expires: '2027-01-01T00:00:00Z',
  displayName: 'sendasapp 1',
};

const sinkJson = (o: Partial<SinkFile> = {}): string =>
  JSON.stringify({
    kind: 'sendasapp-credential',
    tenantId: TENANT,
    clientId: APP,
    credential: secret,
    pending: null,
    ...o,
  });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-sink-'));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

/** Names, types, modes, sizes and mtimes of everything in the directory: what "changed nothing" compares. */
function snapshot(d: string): string[] {
  return readdirSync(d)
    .sort()
    .map((n) => {
      const s = lstatSync(path.join(d, n));
      return `${n} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`;
    });
}

describe('CredentialSink.write', () => {
  it('writes 0600 through a temporary file that is gone afterwards, and fixes a 0644 sink to 0600', () => {
    const file = path.join(dir, 'sink.json');
    writeFileSync(file, '', { mode: 0o644 });
    chmodSync(file, 0o644);
    new CredentialSink(file).store({ tenantId: TENANT, clientId: APP }, secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).credential.keyId).toBe('k1');
    expect(readdirSync(dir)).toEqual(['sink.json']);
  });

  it('never follows a link planted at the old predictable temp name, and replaces a sink that is a link without writing through it', () => {
    const file = path.join(dir, 'sink.json');
    const victim = path.join(dir, 'victim.txt');
    writeFileSync(victim, 'do not touch\n');
    // The names an attacker could predict: the old `<sink>.<pid>.tmp` and a few pids around it.
    for (const pid of [process.pid, process.pid + 1, process.pid - 1]) symlinkSync(victim, `${file}.${pid}.tmp`);
    const sink = new CredentialSink(file);
    sink.markPending({ tenantId: TENANT, clientId: APP }, 'sendasapp 1');
    sink.store({ tenantId: TENANT, clientId: APP }, secret);
    expect(readFileSync(victim, 'utf8')).toBe('do not touch\n');
    expect(lstatSync(file).isFile()).toBe(true);
    // Only the sink, the victim and the planted links: no temporary file left behind.
    expect(readdirSync(dir).filter((n) => !n.endsWith('.tmp') || !n.startsWith('sink.json.'))).toEqual([
      'sink.json',
      'victim.txt',
    ]);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('creates the temporary file exclusively: a link planted at the very name it picks is skipped, never written through', () => {
    const file = path.join(dir, 'sink.json');
    const victim = path.join(dir, 'victim.txt');
    writeFileSync(victim, 'do not touch\n');
    const names = ['planted.tmp', 'planted-dangling.tmp', 'fresh.tmp'];
    symlinkSync(victim, path.join(dir, 'planted.tmp'));
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'planted-dangling.tmp'));
    const tried: string[] = [];
    const sink = new CredentialSink(file, {
      tempName: () => (tried.push(names[tried.length]!), names[tried.length - 1]!),
    });
    sink.store({ tenantId: TENANT, clientId: APP }, secret);
    expect(tried).toEqual(names);
    expect(readFileSync(victim, 'utf8')).toBe('do not touch\n');
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
    expect(lstatSync(path.join(dir, 'planted.tmp')).isSymbolicLink()).toBe(true);
    expect(existsSync(path.join(dir, 'fresh.tmp'))).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).credential.keyId).toBe('k1');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps the credential held so far while a new one is pending (the crash-safety marker)', () => {
    const file = path.join(dir, 'sink.json');
    const sink = new CredentialSink(file);
    sink.store({ tenantId: TENANT, clientId: APP }, secret);
    sink.markPending({ tenantId: TENANT, clientId: APP }, 'sendasapp 2');
    const held = sink.read()!;
    expect(held.credential?.keyId).toBe('k1');
    expect(held.pending?.displayName).toBe('sendasapp 2');
  });

  it('reads an empty file as no sink yet, and refuses a file that is not a credential file', () => {
    const file = path.join(dir, 'sink.json');
    writeFileSync(file, '\n');
    expect(new CredentialSink(file).read()).toBeUndefined();
    writeFileSync(file, 'PASSWORD=hunter2\n');
    expect(() => new CredentialSink(file).read()).toThrow(/not a sendasapp credential file/);
  });
});

describe('inspectSink: the preflight check, read-only', () => {
  const cases: Array<[string, () => string, object, string]> = [
    [
      'a symbolic link',
      () => (symlinkSync(path.join(dir, 'elsewhere.json'), path.join(dir, 's')), path.join(dir, 's')),
      {},
      'symlink',
    ],
    ['a directory', () => (mkdirSync(path.join(dir, 'd')), path.join(dir, 'd')), {}, 'directory'],
    ['/dev/null', () => '/dev/null', {}, 'not-regular-file'],
    ['in a directory that does not exist', () => path.join(dir, 'missing', 's.json'), {}, 'no-directory'],
    [
      'under a file',
      () => (writeFileSync(path.join(dir, 'f'), 'x'), path.join(dir, 'f', 's.json')),
      {},
      'no-directory',
    ],
    [
      'not a credential file',
      () => (writeFileSync(path.join(dir, 's.json'), '{"a":1}'), path.join(dir, 's.json')),
      {},
      'not-a-credential-file',
    ],
    [
      "another app's credential",
      () => (writeFileSync(path.join(dir, 's.json'), sinkJson()), path.join(dir, 's.json')),
      { tenantId: TENANT, clientId: OTHER },
      'other-app',
    ],
    [
      "another tenant's credential",
      () => (writeFileSync(path.join(dir, 's.json'), sinkJson()), path.join(dir, 's.json')),
      { tenantId: OTHER, clientId: APP },
      'other-tenant',
    ],
  ];

  it.each(cases)(
    'refuses a sink that is %s, with a reason and a fix, changing nothing',
    (_what, make, expected, problem) => {
      const file = make();
      const before = snapshot(dir);
      const r = inspectSink(file, expected);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.problem).toBe(problem);
      // The reason names the path at fault: the sink, or the directory it would go into.
      expect(r.reason.includes(file) || r.reason.includes(path.dirname(file))).toBe(true);
      expect(r.fix.length).toBeGreaterThan(10);
      expect(snapshot(dir)).toEqual(before);
    },
  );

  it('refuses a directory it cannot write into', () => {
    // chmod 0500 stops everyone but root; root is stopped only by the kernel (/proc/sys takes no new files).
    let ro = path.join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    if (process.getuid?.() === 0) ro = '/proc/sys';
    const r = inspectSink(path.join(ro, 's.json'));
    expect(r).toMatchObject({ ok: false, problem: 'directory-not-writable' });
    if (!r.ok) expect(r.reason).toContain(ro);
  });

  it('accepts an absent sink, an empty file and this app’s own sink, and says when the mode is too loose', () => {
    const before = snapshot(dir);
    expect(inspectSink(path.join(dir, 'new.json'))).toEqual({
      ok: true,
      file: path.join(dir, 'new.json'),
      state: 'absent',
    });
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(path.join(dir, 'new.json'))).toBe(false);

    const empty = path.join(dir, 'empty.json');
    writeFileSync(empty, '', { mode: 0o600 });
    expect(inspectSink(empty)).toMatchObject({ ok: true, state: 'empty' });
    expect(inspectSink(empty)).not.toHaveProperty('looseMode');

    const own = path.join(dir, 'own.json');
    writeFileSync(own, sinkJson());
    chmodSync(own, 0o644);
    const mtime = statSync(own).mtimeMs;
    const r = inspectSink(own, { tenantId: TENANT, clientId: APP });
    expect(r).toMatchObject({ ok: true, state: 'ours', looseMode: 0o644 });
    // What it holds, without the secret.
    if (r.ok)
      expect(r.held?.credential).toEqual({
        type: 'secret',
        keyId: 'k1',
        expires: secret.expires,
        displayName: secret.displayName,
      });
    expect(JSON.stringify(r)).not.toContain(secret.secret);
    // Read-only: still 0644 and untouched; the write is what fixes it.
    expect(statSync(own).mode & 0o777).toBe(0o644);
    expect(statSync(own).mtimeMs).toBe(mtime);
    new CredentialSink(own).store({ tenantId: TENANT, clientId: APP }, secret);
    expect(statSync(own).mode & 0o777).toBe(0o600);
  });

  it('accepts a sink of this app when the run does not know the ids yet (a new app)', () => {
    const own = path.join(dir, 'own.json');
    writeFileSync(own, sinkJson(), { mode: 0o600 });
    expect(inspectSink(own)).toMatchObject({ ok: true, state: 'ours' });
  });
});

describe('hand-offs when no sink holds a credential (templates/handoff wording)', () => {
  const PROFILE = {
    name: 'global',
    authorityHost: 'https://login.microsoftonline.com',
    smtp: { host: 'smtp.office365.com', port: 587 },
    exchangeScope: 'https://outlook.office365.com/.default',
  };
  const facts = (o: Partial<HandoffFacts>): HandoffFacts => ({
    flow: 'app',
    tenantId: TENANT,
    tenantInput: 'fabrikam.onmicrosoft.com',
    homeTenantId: APP,
    clientId: OTHER,
    appName: 'Scanner SMTP',
    vendorApp: false,
    credential: undefined,
    sinkFile: undefined,
    mailboxes: ['scanner@fabrikam.onmicrosoft.com'],
    mailboxAccess: 'full-access',
    redirectUris: [],
    smtpAuthBlocked: [],
    pending: [],
    notes: ['A note that ends with a period.'],
    ...o,
  });

  it.each(HANDOFF_TARGETS.filter((t) => t !== 'json'))(
    '%s: no empty expiry or key id, no double period, no "the a"',
    (target) => {
      for (const f of [facts({}), facts({ vendorApp: true })]) {
        const text = renderHandoff(target, f, PROFILE);
        expect(text).not.toMatch(/expires\s*[.:(]|key id \)|\(key id\s*\)|writes it to ;/);
        expect(text).not.toMatch(/[^.]\.\.(?!\.)|\.\s+\.(?!\.)/);
        expect(text).not.toMatch(/\bthe an? /);
        expect(text).not.toContain('jq -r .credential.secret \n');
      }
    },
  );
});

describe('CredentialSink.store: a credential alive in Entra is never dropped from its sink', () => {
  const base = { tenantId: TENANT, clientId: APP };
  const renewed = {
    ...secret,
    keyId: 'k2',
    secret: 'the-new-secret-value-9876543210',
    expires: '2028-01-01T00:00:00Z',
    displayName: 'sendasapp 2',
  };

  it('a renewal keeps the old secret as previous until it expires', () => {
    const file = path.join(dir, 's.json');
    const sink = new CredentialSink(file);
    sink.store(base, secret);
    sink.store(base, renewed, { now: Date.parse('2026-12-01T00:00:00Z') });
    const held = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(held.credential?.keyId).toBe('k2');
    expect(held.previous?.map((c) => c.keyId)).toEqual(['k1']);
    // Once the old one has expired, the next write leaves it out.
    sink.store(base, { ...renewed, keyId: 'k3' }, { now: Date.parse('2027-06-01T00:00:00Z') });
    const later = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(later.previous?.map((c) => c.keyId)).toEqual(['k2']);
  });

  it('a secret removed from Entra (--new-secret) is not kept', () => {
    const file = path.join(dir, 's.json');
    const sink = new CredentialSink(file);
    sink.store(base, secret);
    sink.store(base, renewed, { retired: ['k1'], now: Date.parse('2026-12-01T00:00:00Z') });
    const held = JSON.parse(readFileSync(file, 'utf8')) as SinkFile;
    expect(held.previous).toBeUndefined();
  });
});
