/**
 * `--auth workload-identity` end to end: a pipeline's OIDC token (here minted by the emulator's GitHub-like issuer at
 * /oidc) in AZURE_FEDERATED_TOKEN_FILE is exchanged at the token endpoint as the operator app's client assertion,
 * because the app has a federatedIdentityCredential for that issuer, subject and audience — no secret anywhere.
 * A subject without a record (AADSTS70021), an assertion out of its time range (AADSTS700024) and a token signed by a
 * key the issuer does not publish (AADSTS7000272) are refused as Entra refuses them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, JWT_PATTERN, Runs, tempDir } from '../helpers/e2e.js';

const SUBJECT = 'repo:contoso/mail-setup:environment:production';

describe('workload identity federation against the emulator', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  beforeAll(async () => {
    // The operator app trusts the emulator's own issuer for this subject (seed issuer default: `emulator`).
    emu = await startTestEmulator({ seed: { operator: { federatedIdentityCredentials: [{ subject: SUBJECT }] } } });
    dir = tempDir('sendasapp-wif-');
  });
  afterAll(async () => emu?.close());

  /** An ID token from the emulator's issuer, as a workflow run gets one. */
  async function mint(q: Record<string, string>): Promise<string> {
    const res = await emu.request(
      `/oidc/token?${new URLSearchParams({ audience: 'api://AzureADTokenExchange', ...q })}`,
      {
        headers: { Authorization: `Bearer ${emu.endpoints.operator.clientSecret}` },
      },
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { value: string }).value;
  }

  function tokenFile(name: string, token: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, token, { mode: 0o600 });
    return file;
  }

  const planWith = (file: string) =>
    runs.run(
      [
        'plan',
        '--endpoints',
        emu.endpointsFile,
        '--tenant',
        CONTOSO,
        '--auth',
        'workload-identity',
        '--mailbox',
        `scanner@${CONTOSO}`,
        '--secret-out',
        path.join(dir, 'secret.json'),
        '--exchange',
        'rest',
        '--output',
        'json',
      ],
      {
        env: {
          AZURE_TENANT_ID: emu.store.findTenant(CONTOSO)!.id,
          AZURE_CLIENT_ID: emu.endpoints.operator.clientId,
          AZURE_FEDERATED_TOKEN_FILE: file,
        },
        timeoutMs: 60_000,
      },
    );

  it('publishes the issuer metadata and keys like an OIDC provider', async () => {
    const config = (await (await emu.request('/oidc/.well-known/openid-configuration')).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(config.issuer).toBe(`${emu.endpoints.authorityHost}/oidc`);
    const keys = (await (await emu.request(config.jwks_uri)).json()) as { keys: Array<{ kty: string; kid: string }> };
    expect(keys.keys[0]?.kty).toBe('RSA');
    const noSecret = await emu.request('/oidc/token?subject=x');
    expect(noSecret.status).toBe(401);
  });

  it('signs the operator in with the federated token: the plan runs as the operator app, no secret given', async () => {
    await emu.control.clearLog();
    const r = await planWith(tokenFile('ok.jwt', await mint({ subject: SUBJECT })));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<{ outcome: string }>().outcome).toBe('changes-pending');
    const graph = await emu.control.log({ service: 'graph' });
    expect(graph.length).toBeGreaterThan(0);
    expect(graph.every((e) => e.caller === emu.endpoints.operator.clientId)).toBe(true);
    const tokens = (await emu.control.log({ service: 'token' })).filter((e) => /oauth2\/v2\.0\/token$/.test(e.path));
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((e) => e.status === 200)).toBe(true);
  });

  it('a subject without a federated identity record: AADSTS70021', async () => {
    const r = await planWith(
      tokenFile('other.jwt', await mint({ subject: 'repo:contoso/mail-setup:ref:refs/heads/dev' })),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AADSTS70021');
    expect(r.stderr).toContain("Assertion Subject: 'repo:contoso/mail-setup:ref:refs/heads/dev'");
  });

  it('an assertion past its end: AADSTS700024', async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    const r = await planWith(
      tokenFile('old.jwt', await mint({ subject: SUBJECT, notBefore: String(past), lifetime: '600' })),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AADSTS700024');
  });

  it('a token signed with a key the issuer does not publish: AADSTS7000272', async () => {
    const good = await mint({ subject: SUBJECT });
    const [, payload, signature] = good.split('.');
    const forgedHeader = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'NOT-A-PUBLISHED-KEY' })).toString(
      'base64url',
    );
    const r = await planWith(tokenFile('forged.jwt', `${forgedHeader}.${payload}.${signature}`));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AADSTS7000272');
    for (const text of runs.outputs) expect(text).not.toMatch(JWT_PATTERN);
  });
});
