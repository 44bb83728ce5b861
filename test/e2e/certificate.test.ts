/**
 * End to end, certificate credential: a key pair and self-signed certificate made locally (kept in the 0600 sink,
 * the public part uploaded as a keyCredential), or the operator's own PEM (--certificate-file). The proof signs
 * in with the certificate (client assertion), not a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { addCertificate, registerApp, selfSignedCertificate, type TestCertificate } from '../helpers/azure.js';
import { applyArgs, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO,
  Runs,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  findApp,
  pemBody,
  readJson,
  sinkSecrets,
  tempDir,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;

function thumbprint(pem: string): string {
  return createHash('sha1').update(new X509Certificate(pem).raw).digest('hex').toUpperCase();
}

describe('certificate credential: self-signed, held in the --secret-out sink', () => {
  let emu: TestEmulator;
  let dir: string;
  let first: CliResult;
  const runs = new Runs();
  const sinkFile = (): string => path.join(dir, 'cert.json');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER],
      appName: 'Cert Sender',
      credential: 'certificate',
      secretOut: sinkFile(),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-cert-');
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('exits 0 with the proof passed', () => {
    const out = expectPassed(first);
    expect(out.credential).toMatchObject({ type: 'certificate', sink: sinkFile() });
  });

  it('wrote the private key and the certificate to a 0600 sink with the keyId', () => {
    expect(statSync(sinkFile()).mode & 0o777).toBe(0o600);
    const sink = readJson(sinkFile());
    expect(sink.pending).toBeNull();
    expect(sink.credential.type).toBe('certificate');
    expect(sink.credential.privateKeyPem).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(sink.credential.certificatePem).toMatch(/-----BEGIN CERTIFICATE-----/);
    expect(sink.credential.thumbprint).toBe(thumbprint(sink.credential.certificatePem));
    expect(sink.credential.keyId).toBe(first.json<Record<string, any>>().credential.keyId);
  });

  it('uploaded exactly that certificate as the app keyCredential, and no secret', async () => {
    const sink = readJson(sinkFile());
    const out = first.json<Record<string, any>>();
    const app = findApp(await emu.control.tenant(CONTOSO), out.application.appId);
    expect(app.passwordCredentials).toEqual([]);
    expect(app.keyCredentials).toHaveLength(1);
    const key = app.keyCredentials[0];
    expect(key).toMatchObject({ keyId: sink.credential.keyId, type: 'AsymmetricX509Cert', usage: 'Verify' });
    expect(key.displayName).toMatch(/^sendasapp /);
    expect(key.customKeyIdentifier).toBe(sink.credential.thumbprint);
  });

  it('proved with the certificate: the app holds no secret, yet its own token for contoso passed SMTP', async () => {
    const out = first.json<Record<string, any>>();
    const t = await emu.control.tenant(CONTOSO);
    expect(findApp(t, out.application.appId).passwordCredentials).toEqual([]);
    expect(out.verification.claims.appid).toBe(out.application.appId);
    expect(out.verification.claims.tid).toBe(t.id);
    expect(first.stderr).toContain('235 2.7.0 Authentication successful');
  });

  it('a rerun changes nothing: same key, no new keyCredential, no write', async () => {
    const before = readFileSync(sinkFile(), 'utf8');
    const out = await expectNoopRerun(emu, runs, args());
    expect(out.verification.status).toBe('passed');
    expect(readFileSync(sinkFile(), 'utf8')).toBe(before);
    expect(findApp(await emu.control.tenant(CONTOSO), out.application.appId).keyCredentials).toHaveLength(1);
  });

  it('never prints the private key or a token', async () => {
    const secrets = sinkSecrets(sinkFile());
    expect(secrets).toHaveLength(1);
    await expectNoLeaks(emu, runs.outputs, secrets);
  });
});

describe('certificate credential: the operator’s own PEM (--certificate-file) on an adopted app with a certificate', () => {
  let emu: TestEmulator;
  let dir: string;
  let cert: TestCertificate;
  let existing: TestCertificate;
  let appId: string;
  let first: CliResult;
  const runs = new Runs();
  const pemFile = (): string => path.join(dir, 'own.pem');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER],
      appId,
      credential: 'certificate',
      certificateFile: pemFile(),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-owncert-');
    cert = selfSignedCertificate('CN=erp.contoso.com');
    // The app exists already (made in the portal) and holds another certificate, which must stay.
    existing = selfSignedCertificate('CN=older.contoso.com');
    const reg = registerApp(emu, { home: CONTOSO, signInAudience: 'AzureADMyOrg', displayName: 'ERP (portal)' });
    addCertificate(reg.app, existing);
    appId = reg.appId;
    writeFileSync(pemFile(), `${cert.privateKeyPem}${cert.certificatePem}`, { mode: 0o600 });
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('uploads the given certificate next to the existing one and proves with its key', async () => {
    const out = expectPassed(first);
    expect(out.credential).toMatchObject({ type: 'certificate', sink: pemFile() });
    const app = emu.store.applicationByAppId(appId)!.entity;
    expect(app.keyCredentials).toHaveLength(2);
    const kept = app.keyCredentials.find((k) => k.key === existing.derBase64);
    expect(kept, 'the existing certificate was kept').toBeDefined();
    const added = app.keyCredentials.find((k) => k.key === cert.derBase64);
    expect(added, 'the given certificate was uploaded').toBeDefined();
    expect(added!.displayName).toMatch(/^sendasapp /);
    expect(out.credential.keyId).toBe(added!.keyId);
  });

  it('a rerun with the same file changes nothing', async () => {
    await expectNoopRerun(emu, runs, args());
  });

  it('never prints the private key or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, [pemBody(cert.privateKeyPem)]);
  });
});
