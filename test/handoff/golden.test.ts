/**
 * Golden files: every hand-off target rendered from fixed facts (a cross-tenant Business Central setup, a
 * delegated Xeams/Postfix setup, and one with the secret inlined). `UPDATE_GOLDEN=1` rewrites them.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import {
  HANDOFF_TARGETS,
  HandoffError,
  checkTarget,
  renderHandoff,
  renderTemplate,
  writeHandoffFile,
  type HandoffFacts,
  type HandoffProfile,
  type HandoffTarget,
} from '../../src/handoff/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const GOLDEN = path.join(here, 'golden');

const PROFILE: HandoffProfile = {
  name: 'global',
  authorityHost: 'https://login.microsoftonline.com',
  smtp: { host: 'smtp.office365.com', port: 587 },
  exchangeScope: 'https://outlook.office365.com/.default',
};

/** Home tenant contoso (Tenant A), mailboxes in fabrikam (Tenant B), FullAccess, a secret in a sink file. */
const APP: HandoffFacts = {
  flow: 'app',
  tenantId: '092cee58-1045-5de8-8481-065b5c960820',
  tenantInput: 'fabrikam.onmicrosoft.com',
  homeTenantId: '81de0ee0-8531-533e-a5ad-b8a0c0d2f242',
  clientId: '7ec603cf-7bd1-49fc-b809-c050873e6217',
  appName: 'Business Central SMTP',
  vendorApp: false,
  credential: { type: 'secret', keyId: '8a67f009-47d7-4aad-890e-678bb24bf218', expires: '2027-05-24T05:48:03Z' },
  sinkFile: '/etc/sendasapp/bc-smtp.json',
  mailboxes: ['scanner@fabrikam.onmicrosoft.com', 'ap@fabrikam.onmicrosoft.com'],
  mailboxAccess: 'full-access',
  redirectUris: [],
  smtpAuthBlocked: [],
  pending: [],
  notes: [],
};

const DELEGATED: HandoffFacts = {
  ...APP,
  flow: 'delegated',
  tenantId: '81de0ee0-8531-533e-a5ad-b8a0c0d2f242',
  tenantInput: 'contoso.onmicrosoft.com',
  appName: 'Xeams SMTP',
  mailboxes: ['it@contoso.onmicrosoft.com'],
  redirectUris: ['https://xeams.contoso.com:5273/oauth'],
  adminConsentUrl:
    'https://login.microsoftonline.com/81de0ee0-8531-533e-a5ad-b8a0c0d2f242/v2.0/adminconsent?client_id=7ec603cf-7bd1-49fc-b809-c050873e6217&scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send+offline_access+openid',
  smtpAuthBlocked: ['it@contoso.onmicrosoft.com'],
};

const SECRET = 'Tst8Q~not-a-real-secret-but-golden_"quoted"\\';

const EXT: Record<HandoffTarget, string> = {
  'business-central': 'txt',
  'enaio-server': 'reg',
  'enaio-webclient': 'yml',
  xeams: 'txt',
  postfix: 'txt',
  env: 'env',
  json: 'json',
};

function golden(name: string, content: string): void {
  const file = path.join(GOLDEN, `${name}.golden`);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, content);
  expect(content).toBe(readFileSync(file, 'utf8'));
}

/** Each document parses in its own format. */
function parses(target: HandoffTarget, content: string): void {
  if (target === 'json') JSON.parse(content);
  if (target === 'enaio-webclient') expect(parseYaml(content)).toHaveProperty('featureSwitches.sendEmail');
  if (target === 'enaio-server') {
    expect(content.startsWith('Windows Registry Editor Version 5.00\n')).toBe(true);
    for (const line of content
      .split('\n')
      .filter((l) => l && !l.startsWith(';') && !l.startsWith('['))
      .slice(1))
      expect(line).toMatch(/^"[A-Za-z]+"=("([^"\\]|\\.)*"|dword:[0-9a-f]{8})$/);
  }
  if (target === 'env')
    for (const line of content.split('\n').filter((l) => l && !l.startsWith('#')))
      expect(line).toMatch(/^[A-Z_]+="([^"\\]|\\.)*"$/);
}

describe('hand-off golden files', () => {
  it.each(HANDOFF_TARGETS.map((t) => [t]))('%s: client credentials, cross-tenant, secret referenced', (target) => {
    const content = renderHandoff(target, APP, PROFILE);
    golden(`${target}.app.${EXT[target]}`, content);
    parses(target, content);
    expect(content).toContain(APP.clientId);
    expect(content).toContain(APP.tenantId);
    expect(content).toContain('scanner@fabrikam.onmicrosoft.com');
    expect(content).toContain('smtp.office365.com');
    expect(content).not.toMatch(/Tst8Q~/);
  });

  it.each(['xeams', 'postfix', 'env', 'json', 'business-central'].map((t) => [t as HandoffTarget]))(
    '%s: delegated SMTP',
    (target) => {
      const content = renderHandoff(target, DELEGATED, PROFILE);
      golden(`${target}.delegated.${EXT[target]}`, content);
      parses(target, content);
      if (target !== 'business-central')
        expect(content).toContain('https://outlook.office.com/SMTP.Send offline_access');
      if (target !== 'business-central' && target !== 'postfix') {
        expect(content).toContain(
          'https://login.microsoftonline.com/81de0ee0-8531-533e-a5ad-b8a0c0d2f242/v2.0/.well-known/openid-configuration',
        );
      }
    },
  );

  it.each(['enaio-server', 'enaio-webclient', 'env', 'json', 'postfix'].map((t) => [t as HandoffTarget]))(
    '%s: --include-secret puts the value in, escaped for the format',
    (target) => {
      const content = renderHandoff(target, { ...APP, secretValue: SECRET }, PROFILE);
      golden(`${target}.secret.${EXT[target]}`, content);
      parses(target, content);
      if (target === 'json') expect(JSON.parse(content).credential.secret).toBe(SECRET);
      if (target === 'enaio-webclient')
        expect(parseYaml(content).featureSwitches.sendEmail.officeClientSecret).toBe(SECRET);
    },
  );

  it.each(['enaio-webclient', 'xeams'].map((t) => [t as HandoffTarget]))(
    '%s: the send-as users are managed (no command for a person to run; who is granted)',
    (target) => {
      const facts: HandoffFacts = {
        ...APP,
        mailboxes: ['dms@fabrikam.onmicrosoft.com'],
        sendAs: {
          account: 'dms@fabrikam.onmicrosoft.com',
          users: ['anna@fabrikam.onmicrosoft.com', 'ben@fabrikam.onmicrosoft.com'],
          group: 'enaio-users',
        },
      };
      const content = renderHandoff(target, facts, PROFILE);
      golden(`${target}.send-as.${EXT[target]}`, content);
      parses(target, content);
      expect(content).not.toContain('Add-RecipientPermission -Identity');
      expect(content).toContain('anna@fabrikam.onmicrosoft.com');
      expect(content).toContain('ben@fabrikam.onmicrosoft.com');
      expect(content).toContain('enaio-users');
      // Without the resource, the hand-off still says how (and that sendasapp can do it).
      expect(renderHandoff(target, APP, PROFILE)).toMatch(/--send-as-users/);
    },
  );

  it('hosts follow the cloud profile (US Government)', () => {
    const content = renderHandoff(
      'env',
      { ...DELEGATED },
      {
        name: 'usgov',
        authorityHost: 'https://login.microsoftonline.us',
        smtp: { host: 'smtp.office365.us', port: 587 },
        exchangeScope: 'https://outlook.office365.us/.default',
      },
    );
    expect(content).toContain('SMTP_HOST="smtp.office365.us"');
    expect(content).toContain('OAUTH_TOKEN_ENDPOINT="https://login.microsoftonline.us/');
    expect(content).toContain('OAUTH_SCOPE="https://outlook.office365.us/SMTP.Send offline_access"');
  });

  it('refuses a certificate for the systems that take only a secret', () => {
    const cert: HandoffFacts = { ...APP, credential: { type: 'certificate', keyId: 'k', expires: 'x' } };
    expect(() => checkTarget('business-central', cert)).toThrow(/no certificate support/);
    expect(() => checkTarget('enaio-server', cert)).toThrow(HandoffError);
    expect(() => renderHandoff('env', cert, PROFILE)).not.toThrow();
  });

  it('writes a file with a secret with mode 0600', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-handoff-'));
    writeHandoffFile(path.join(dir, 'a.env'), 'X=1\n', true);
    expect(statSync(path.join(dir, 'a.env')).mode & 0o777).toBe(0o600);
  });
});

describe('template language', () => {
  it('values, raw values, sections, inverted sections, lists and standalone lines', () => {
    const t =
      'a={{a}} r={{{a}}}\n{{#list}}\n- {{.}}\n{{/list}}\n{{^none}}\nempty\n{{/none}}\n{{! c }}\n{{#o}}{{x}}{{/o}}\n';
    const out = renderTemplate(t, { a: '"q"', list: ['x', 'y'], none: [], o: { x: 1 } }, (v) => JSON.stringify(v));
    expect(out).toBe('a="\\"q\\"" r="q"\n- "x"\n- "y"\nempty\n1\n');
  });

  it('names an unclosed or mismatched section', () => {
    expect(() => renderTemplate('{{#a}}', {})).toThrow(/never closed/);
    expect(() => renderTemplate('{{#a}}{{/b}}', {})).toThrow(/closes/);
  });
});
