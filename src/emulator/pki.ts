/**
 * The emulator's keys: a CA generated at first start, the TLS certificate it signs (localhost, 127.0.0.1 and extra
 * names), and the token-signing key. With a state directory they are kept there and reused.
 */
import { generateKeyPair, generateKeyPairSync, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface EmulatorPki {
  caPem: string;
  caFile: string;
  tlsKeyPem: string;
  tlsCertPem: string;
  signingKeyPem: string;
  signingCertPem: string;
  /** Key id of the token-signing key (x5t-like thumbprint), as in the JWKS. */
  signingKid: string;
}

export interface PemKeyPair {
  privateKey: string;
  publicKey: string;
}

const RSA_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

/** Generates the key pairs a start in `dir` will need, in parallel on the thread pool (start-up < 1 s). */
export async function pregenerateKeys(dir: string): Promise<PemKeyPair[]> {
  const needed =
    1 + (existsSync(path.join(dir, 'ca-key.pem')) ? 0 : 1) + (existsSync(path.join(dir, 'signing-key.pem')) ? 0 : 1);
  return Promise.all(
    Array.from(
      { length: needed },
      () =>
        new Promise<PemKeyPair>((resolve, reject) =>
          generateKeyPair('rsa', RSA_OPTIONS, (err, publicKey, privateKey) =>
            err ? reject(err) : resolve({ publicKey, privateKey }),
          ),
        ),
    ),
  );
}

function rsaPairSync(): PemKeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function makeCert(options: {
  subjectCn: string;
  publicKeyPem: string;
  signerKeyPem: string;
  issuer?: forge.pki.Certificate;
  isCa: boolean;
  altNames?: Array<{ type: number; value?: string; ip?: string }>;
  years: number;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + options.years * 365 * 86_400_000);
  const subject = [
    { name: 'commonName', value: options.subjectCn },
    { name: 'organizationName', value: 'sendasapp emulator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.subject.attributes : subject);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: options.isCa, critical: true },
    options.isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!options.isCa) extensions.push({ name: 'extKeyUsage', serverAuth: true });
  if (options.altNames) extensions.push({ name: 'subjectAltName', altNames: options.altNames });
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(options.signerKeyPem), forge.md.sha256.create());
  return cert;
}

function thumbprintB64Url(certPem: string): string {
  const der = Buffer.from(
    forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(),
    'binary',
  );
  return createHash('sha1').update(der).digest('base64url');
}

/** Loads or creates the CA and signing key in `dir`, then issues a TLS certificate for `hostnames`. */
export function loadOrCreatePki(dir: string, hostnames: string[], pool: PemKeyPair[] = []): EmulatorPki {
  const rsaPair = (): PemKeyPair => pool.shift() ?? rsaPairSync();
  mkdirSync(dir, { recursive: true });
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const caFile = path.join(dir, 'ca.pem');
  const signingKeyFile = path.join(dir, 'signing-key.pem');
  const signingCertFile = path.join(dir, 'signing-cert.pem');

  let caKeyPem: string;
  let caPem: string;
  if (existsSync(caKeyFile) && existsSync(caFile)) {
    caKeyPem = readFileSync(caKeyFile, 'utf8');
    caPem = readFileSync(caFile, 'utf8');
  } else {
    const pair = rsaPair();
    caKeyPem = pair.privateKey;
    caPem = forge.pki.certificateToPem(
      makeCert({
        subjectCn: 'sendasapp emulator CA',
        publicKeyPem: pair.publicKey,
        signerKeyPem: caKeyPem,
        isCa: true,
        years: 10,
      }),
    );
    writeFileSync(caKeyFile, caKeyPem, { mode: 0o600 });
    writeFileSync(caFile, caPem);
  }
  const caCert = forge.pki.certificateFromPem(caPem);

  let signingKeyPem: string;
  let signingCertPem: string;
  if (existsSync(signingKeyFile) && existsSync(signingCertFile)) {
    signingKeyPem = readFileSync(signingKeyFile, 'utf8');
    signingCertPem = readFileSync(signingCertFile, 'utf8');
  } else {
    const pair = rsaPair();
    signingKeyPem = pair.privateKey;
    signingCertPem = forge.pki.certificateToPem(
      makeCert({
        subjectCn: 'accounts.emulator.sendasapp',
        publicKeyPem: pair.publicKey,
        signerKeyPem: caKeyPem,
        issuer: caCert,
        isCa: false,
        years: 10,
      }),
    );
    writeFileSync(signingKeyFile, signingKeyPem, { mode: 0o600 });
    writeFileSync(signingCertFile, signingCertPem);
  }

  const tls = rsaPair();
  const names = [...new Set(['localhost', ...hostnames])];
  const ips = ['127.0.0.1', '::1'];
  const altNames = [
    ...names.filter((n) => !/^[\d.:]+$/.test(n)).map((value) => ({ type: 2, value })),
    ...[...ips, ...names.filter((n) => /^[\d.:]+$/.test(n))].map((ip) => ({ type: 7, ip })),
  ];
  const tlsCertPem = forge.pki.certificateToPem(
    makeCert({
      subjectCn: 'localhost',
      publicKeyPem: tls.publicKey,
      signerKeyPem: caKeyPem,
      issuer: caCert,
      isCa: false,
      altNames,
      years: 1,
    }),
  );
  return {
    caPem,
    caFile,
    tlsKeyPem: tls.privateKey,
    tlsCertPem,
    signingKeyPem,
    signingCertPem,
    signingKid: thumbprintB64Url(signingCertPem),
  };
}
