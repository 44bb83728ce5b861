/** The wizard's answers go through the option table's schemas, and its config file reruns through resolveOptions. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, resolveOptions } from '../../src/config/index.js';
import { splitList, validateOption } from '../../src/cli/wizard/ask.js';
import { configFor } from '../../src/cli/wizard/questions.js';

describe('wizard answers', () => {
  it('are checked by the same schemas as flags, with the reason', () => {
    expect(validateOption('tenant', 'contoso.onmicrosoft.com')).toBe(true);
    expect(validateOption('tenant', 'contoso')).toMatch(/tenant id \(GUID\) or a verified domain/);
    expect(validateOption('mailboxes', splitList('a@contoso.com, b'))).toBe(
      '2: must be a mailbox address such as scanner@contoso.com',
    );
    expect(validateOption('redirectUris', ['http://bc.contoso.com/x'])).toMatch(/https URL/);
    expect(validateOption('redirectUris', ['http://localhost'])).toBe(true);
    expect(validateOption('target', 'lotus')).toMatch(/must be one of business-central/);
    expect(validateOption('secretLifetime', '12mo')).toBe(true);
  });

  it('the config file it writes holds no secret and resolves to the same options', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-answers-'));
    const o = resolveOptions({
      flags: {
        tenant: 'fabrikam.onmicrosoft.com',
        homeTenant: 'contoso.onmicrosoft.com',
        appName: 'Business Central SMTP',
        multiTenant: true,
        mailbox: ['scanner@fabrikam.onmicrosoft.com'],
        secretOut: '/etc/sendasapp/bc.json',
        enableSmtpAuth: 'mailbox',
        target: 'business-central',
        redirectUri: ['https://bc.contoso.com/BC/OAuthLanding.htm'],
      },
      env: {},
    });
    const config = configFor(o);
    expect(config).not.toHaveProperty('secret');
    const file = path.join(dir, 'sendasapp.yaml');
    writeFileSync(file, stringify(config));
    const again = resolveOptions({ flags: {}, env: {}, file });
    expect(again).toEqual(o);
  });

  it('rejects combinations that cannot work', () => {
    const base = { tenant: 'contoso.onmicrosoft.com' };
    expect(() => resolveOptions({ flags: { ...base, flow: 'delegated', credential: 'certificate' }, env: {} })).toThrow(
      ConfigError,
    );
    expect(() =>
      resolveOptions({ flags: { ...base, target: 'business-central', credential: 'certificate' }, env: {} }),
    ).toThrow(/no certificate support/);
    expect(() =>
      resolveOptions({
        flags: { ...base, flow: 'delegated', appId: '00000000-0000-0000-0000-000000000001' },
        env: {},
      }),
    ).toThrow(/--app-id/);
  });
});
