/**
 * `--secret-out` as a Key Vault secret: the two URI forms are parsed (vault lower-cased, the https form's cloud
 * suffix kept), malformed ones are refused with the form named, the published JSON Schema agrees with validation,
 * a config file's vault URI is not taken for a relative path, and the vault URL follows the run's cloud (an https
 * form of another cloud is refused).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { ConfigError, configJsonSchema, parseVaultUri, resolveOptions } from '../../src/config/index.js';
import { CLOUDS } from '../../src/auth/index.js';
import { vaultUrlFor } from '../../src/handoff/index.js';
import { configFor } from '../../src/cli/wizard/questions.js';

const GOOD = [
  'keyvault://contoso-vault/scanner-smtp',
  'KeyVault://Contoso-Vault/Scanner-SMTP/',
  'https://contoso-vault.vault.azure.net/secrets/scanner-smtp',
  'https://gov-vault.vault.usgovcloudapi.net/secrets/x',
  'https://cn-vault.vault.azure.cn/secrets/0-9',
];
const BAD = [
  'keyvault://ab/x', // a vault name is 3-24 characters
  'keyvault://contoso--vault/x', // no consecutive hyphens
  'keyvault://1vault/x', // a letter first
  'keyvault://contoso-vault/bad_name',
  'keyvault://contoso-vault/',
  'https://contoso-vault.vault.azure.net/secrets/x/0123456789abcdef', // no version: the sink writes versions
  'https://contoso-vault.example.com/secrets/x',
  'http://contoso-vault.vault.azure.net/secrets/x',
];

const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-vault-uri-'));
const configWith = (secretOut: string): string => {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ secretOut }));
  return file;
};

describe('--secret-out as a Key Vault secret', () => {
  it('parses both forms', () => {
    expect(parseVaultUri(GOOD[0]!)).toEqual({ vault: 'contoso-vault', secret: 'scanner-smtp' });
    expect(parseVaultUri(GOOD[1]!)).toEqual({ vault: 'contoso-vault', secret: 'Scanner-SMTP' });
    expect(parseVaultUri(GOOD[3]!)).toEqual({ vault: 'gov-vault', secret: 'x', dnsSuffix: 'vault.usgovcloudapi.net' });
    for (const b of BAD) expect(parseVaultUri(b), b).toBeUndefined();
  });

  it('refuses a malformed vault URI, naming the forms; a file path stays a file path', () => {
    for (const b of BAD) {
      let err: unknown;
      try {
        resolveOptions({ flags: { secretOut: b }, env: {} });
      } catch (e) {
        err = e;
      }
      expect(err, b).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain('keyvault://<vault>/<secret>');
    }
    expect(resolveOptions({ flags: { secretOut: 'secrets/s.json' }, env: {} }).secretOut).toBe('secrets/s.json');
  });

  it('a vault URI in a config file is kept as written (not resolved against the file directory)', () => {
    expect(resolveOptions({ flags: {}, env: {}, file: configWith(GOOD[0]!) }).secretOut).toBe(GOOD[0]);
    expect(resolveOptions({ flags: {}, env: {}, file: configWith('s.json') }).secretOut).toBe(path.join(dir, 's.json'));
  });

  it("setup's config file keeps a vault URI as it is, and reruns to the same options", () => {
    const o = resolveOptions({ flags: { tenant: 'contoso.onmicrosoft.com', secretOut: GOOD[0] }, env: {} });
    const file = path.join(dir, 'sendasapp.json');
    const config = configFor(o, file);
    expect(config.secretOut).toBe(GOOD[0]);
    writeFileSync(file, JSON.stringify(config));
    expect(resolveOptions({ flags: {}, env: {}, file })).toEqual(o);
  });

  it('the JSON Schema accepts and refuses what validation does', () => {
    const schema = { ...(configJsonSchema() as Record<string, unknown>) };
    delete schema.$schema;
    delete schema.$id;
    const validate = new Ajv({ allErrors: true }).compile(schema);
    // The schema spells the scheme in lower case (editors suggest the canonical form).
    for (const g of GOOD.filter((x) => x.startsWith('keyvault://') || x.startsWith('https://')))
      expect(validate({ secretOut: g }), g).toBe(true);
    for (const b of BAD) expect(validate({ secretOut: b }), b).toBe(false);
    expect(validate({ secretOut: './secrets/scanner.json' })).toBe(true);
  });

  it("the vault URL is the run's cloud's; an https form of another cloud is refused", () => {
    expect(vaultUrlFor(parseVaultUri(GOOD[0]!)!, CLOUDS.global)).toBe('https://contoso-vault.vault.azure.net');
    expect(vaultUrlFor(parseVaultUri(GOOD[0]!)!, CLOUDS.china)).toBe('https://contoso-vault.vault.azure.cn');
    expect(vaultUrlFor(parseVaultUri(GOOD[3]!)!, CLOUDS.usgov)).toBe('https://gov-vault.vault.usgovcloudapi.net');
    expect(() => vaultUrlFor(parseVaultUri(GOOD[3]!)!, CLOUDS.global)).toThrow(
      /under vault\.usgovcloudapi\.net, but the vaults of the global cloud are under vault\.azure\.net/,
    );
  });
});
