/**
 * When a credential is renewed: a short --secret-lifetime is not renewed on every run, and a changed
 * --certificate-file is uploaded (the file, not "some certificate of ours", is what must be in Entra).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { generateKeyPairSync } from 'node:crypto';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, runCli } from '../helpers/cli.js';
import { CONTOSO, expectPassed, findApp, mailbox, readJson, tempDir } from '../helpers/e2e.js';

function certificatePem(cn: string): string {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pair.publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(forge.pki.privateKeyFromPem(pair.privateKey), forge.md.sha256.create());
  return `${pair.privateKey}${forge.pki.certificateToPem(cert)}`;
}

describe('credential renewal', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-renewal-');
  });
  afterAll(async () => emu.close());

  it('a 7-day secret is kept by the next run (renewal only in its last third)', async () => {
    const o = {
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [mailbox('scanner', CONTOSO)],
      appName: 'Short lived',
      secretOut: path.join(dir, 'short.json'),
    };
    const first = expectPassed(await runCli(applyArgs(o, '--secret-lifetime', '7d')));
    const second = expectPassed(await runCli(applyArgs(o, '--secret-lifetime', '7d')));
    expect(second.changed).toBe(false);
    const app = findApp(await emu.control.tenant(CONTOSO), first.application.appId);
    expect(app.passwordCredentials).toHaveLength(1);
    expect(readJson(o.secretOut).credential.keyId).toBe(app.passwordCredentials[0].keyId);
  });

  it('a different --certificate-file is uploaded next to the old one, and the proof uses it', async () => {
    const a = path.join(dir, 'a.pem');
    const b = path.join(dir, 'b.pem');
    writeFileSync(a, certificatePem('first'), { mode: 0o600 });
    writeFileSync(b, certificatePem('second'), { mode: 0o600 });
    const o = {
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [mailbox('ap', CONTOSO)],
      appName: 'Own certificate',
      credential: 'certificate',
    };
    const first = expectPassed(await runCli(applyArgs({ ...o, certificateFile: a })));
    const same = expectPassed(await runCli(applyArgs({ ...o, certificateFile: a })));
    expect(same.changed).toBe(false);
    const changed = expectPassed(await runCli(applyArgs({ ...o, certificateFile: b })));
    expect(changed.changed).toBe(true);
    const app = findApp(await emu.control.tenant(CONTOSO), first.application.appId);
    expect(app.keyCredentials).toHaveLength(2);
  });
});
