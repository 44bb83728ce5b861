import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, configJsonSchema, parseDuration, requireTarget, resolveOptions } from '../../src/config/index.js';

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-config-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('options: flags > environment > file > defaults', () => {
  it('takes a flag over the environment over the file', () => {
    const file = tmpFile('c.yaml', 'tenant: file.onmicrosoft.com\nappName: From file\nwait: 10m\n');
    const o = resolveOptions({
      flags: { tenant: 'flag.onmicrosoft.com' },
      env: { SENDASAPP_TENANT: 'env.onmicrosoft.com', SENDASAPP_APP_NAME: 'From env' },
      file,
    });
    expect(o.tenant).toBe('flag.onmicrosoft.com');
    expect(o.appName).toBe('From env');
    expect(o.wait.ms).toBe(600_000);
    expect(o.verify).toBe('auth');
  });

  it('reads JSON config files and comma-separated list variables', () => {
    const file = tmpFile('c.json', JSON.stringify({ mailboxes: ['A@contoso.com'], mailboxAccess: 'rbac' }));
    const o = resolveOptions({ flags: {}, env: {}, file });
    expect(o.mailboxes).toEqual(['a@contoso.com']);
    expect(o.mailboxAccess).toBe('rbac');
    const e = resolveOptions({ flags: {}, env: { SENDASAPP_MAILBOX: 'x@contoso.com, y@contoso.com' } });
    expect(e.mailboxes).toEqual(['x@contoso.com', 'y@contoso.com']);
  });
});

describe('bad input names the field and the allowed form', () => {
  it.each([
    [{ tenant: 'not a tenant' }, '--tenant', 'tenant id (GUID) or a verified domain'],
    [{ appId: '1234' }, '--app-id', 'GUID'],
    [{ mailbox: ['ok@contoso.com', 'nope'] }, '--mailbox (item 2)', 'mailbox address'],
    [{ secretLifetime: '12 months' }, '--secret-lifetime', '12mo'],
    [{ wait: '-1h' }, '--wait', 'duration'],
    [{ mailboxAccess: 'owner' }, '--mailbox-access', 'full-access, send-as, rbac'],
    [{ verify: 'send' }, '--send-to', 'required with --verify send'],
  ])('%j → %s', (flags, field, form) => {
    const err = errorOf(() => resolveOptions({ flags, env: {} }));
    expect(err.field).toBe(field);
    expect(err.message).toContain(form);
  });

  it('names the environment variable and the file key', () => {
    expect(errorOf(() => resolveOptions({ flags: {}, env: { SENDASAPP_CLOUD: 'mars' } })).field).toBe(
      'SENDASAPP_CLOUD',
    );
    const file = tmpFile('c.yaml', 'tenant: 42\n');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file })).field).toBe(`${file}: tenant`);
  });

  it('rejects unknown keys, broken YAML and unreadable files', () => {
    const unknown = tmpFile('c.yaml', 'tennant: contoso.onmicrosoft.com\n');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file: unknown })).message).toContain('tennant');
    const broken = tmpFile('c.yaml', 'tenant: [unclosed\n');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file: broken })).message).toContain('not valid YAML');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file: '/nonexistent/x.yaml' })).field).toBe('--file');
  });

  it('requires a tenant and mailboxes for tenant commands', () => {
    const o = resolveOptions({ flags: {}, env: {} });
    expect(errorOf(() => requireTarget(o)).field).toBe('--tenant');
    const t = resolveOptions({ flags: { tenant: 'contoso.onmicrosoft.com' }, env: {} });
    expect(errorOf(() => requireTarget(t)).field).toBe('--mailbox');
  });
});

describe('durations', () => {
  it('parses the documented units', () => {
    expect(parseDuration('90s')?.ms).toBe(90_000);
    expect(parseDuration('180d')?.days).toBe(180);
    expect(parseDuration('12mo')?.days).toBe(360);
    expect(parseDuration('1y')?.days).toBe(365);
    expect(parseDuration('12 mo')).toBeUndefined();
  });
});

describe('JSON Schema', () => {
  it('is generated from the same schema and lists every option', () => {
    const s = configJsonSchema() as {
      properties: Record<string, { description?: string }>;
      additionalProperties: unknown;
    };
    expect(Object.keys(s.properties)).toContain('mailboxAccess');
    expect(s.properties.tenant?.description).toContain('mailbox tenant');
    expect(s.additionalProperties).toBe(false);
  });
});
