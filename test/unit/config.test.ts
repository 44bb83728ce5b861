import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import {
  ConfigError,
  configJsonSchema,
  OPTION_SPECS,
  parseDuration,
  readConfigFile,
  requireTarget,
  resolveOptionSources,
  resolveOptions,
} from '../../src/config/index.js';

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

describe('the new options: --verbose, --log-file, --new-secret, --timeout, --exchange auto', () => {
  it('have their defaults', () => {
    const o = resolveOptions({ flags: {}, env: {} });
    expect(o.timeout.ms).toBe(60_000);
    expect(o.verbose).toBe(false);
    expect(o.newSecret).toBe(false);
    expect(o.logFile).toBeUndefined();
    expect(o.exchange).toBe('auto');
  });

  it('come from flags, variables and the file like every option', () => {
    const file = tmpFile('c.yaml', 'timeout: 2m\nnewSecret: true\nexchange: auto\n');
    const o = resolveOptions({
      flags: { verbose: true, logFile: 'requests.log' },
      env: { SENDASAPP_TIMEOUT: '90s', SENDASAPP_NEW_SECRET: 'false' },
      file,
    });
    expect(o.verbose).toBe(true);
    expect(o.logFile).toBe('requests.log');
    expect(o.timeout.ms).toBe(90_000);
    expect(o.newSecret).toBe(false);
    expect(o.exchange).toBe('auto');
    expect(resolveOptions({ flags: {}, env: {}, file }).newSecret).toBe(true);
  });

  it.each([
    ['0', false],
    ['500ms', false],
    ['1s', true],
    ['10m', true],
    ['601s', false],
    ['1h', false],
  ])('--timeout %s accepted: %s (1s to 10m)', (value, ok) => {
    if (ok) expect(resolveOptions({ flags: { timeout: value }, env: {} }).timeout.text).toBe(value);
    else {
      const err = errorOf(() => resolveOptions({ flags: { timeout: value }, env: {} }));
      expect(err.field).toBe('--timeout');
      expect(err.message).toMatch(/at least 1s and at most 10m|duration such as/);
    }
  });
});

describe('secret lifetime: at least 1 day, at most 2 years', () => {
  it.each(['90s', '0d', '0', '23h', '999999y', '731d', '3y', '25mo'])(
    '%s → bad input naming the field and range',
    (v) => {
      const err = errorOf(() => resolveOptions({ flags: { secretLifetime: v }, env: {} }));
      expect(err.field).toBe('--secret-lifetime');
      expect(err.message).toContain('at least 1d and at most 2y');
      expect(err.message).toMatch(/180d|12mo/);
    },
  );

  it.each(['1d', '24h', '90d', '12mo', '24mo', '730d', '2y'])('%s is accepted', (v) => {
    expect(resolveOptions({ flags: { secretLifetime: v }, env: {} }).secretLifetime.text).toBe(v);
  });

  it('names the variable and the file key too', () => {
    expect(errorOf(() => resolveOptions({ flags: {}, env: { SENDASAPP_SECRET_LIFETIME: '90s' } })).field).toBe(
      'SENDASAPP_SECRET_LIFETIME',
    );
    const file = tmpFile('c.yaml', 'secretLifetime: 0d\n');
    const err = errorOf(() => resolveOptions({ flags: {}, env: {}, file }));
    expect(err.field).toBe(`${file}: secretLifetime`);
    expect(err.message).toContain('at least 1d');
  });
});

describe('--send-to goes with --verify send', () => {
  it('refuses --send-to without --verify send, from any source', () => {
    const err = errorOf(() => resolveOptions({ flags: { sendTo: 'me@contoso.com' }, env: {} }));
    expect(err.field).toBe('--send-to');
    expect(err.message).toContain('--verify send');
    const file = tmpFile('c.yaml', 'sendTo: me@contoso.com\n');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file })).field).toBe(`${file}: sendTo`);
    expect(resolveOptions({ flags: { sendTo: 'me@contoso.com', verify: 'send' }, env: {} }).sendTo).toBe(
      'me@contoso.com',
    );
  });

  it('verify (proof only) takes a --send-to alone as the test message, and answers at once by default', () => {
    const { options, fieldOf } = resolveOptionSources({
      flags: { sendTo: 'me@contoso.com' },
      env: {},
      defaults: { wait: '0' },
      proofOnly: true,
    });
    expect(options.verify).toBe('send');
    expect(options.wait.ms).toBe(0);
    expect(fieldOf.wait).toBe('wait');
    expect(fieldOf.sendTo).toBe('--send-to');
    const file = tmpFile('c.yaml', 'wait: 5m\n');
    expect(resolveOptionSources({ flags: {}, env: {}, file, defaults: { wait: '0' } }).options.wait.ms).toBe(300_000);
  });
});

describe('relative paths in a config file', () => {
  it("resolve against the file's directory; flags and variables stay as given (the working directory)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-config-'));
    mkdirSync(path.join(dir, 'conf'));
    const file = path.join(dir, 'conf', 'c.yaml');
    writeFileSync(
      file,
      [
        'secretOut: secrets/scanner.json',
        'credential: certificate',
        'certificateFile: ./cert.pem',
        'handoffOut: ../handoff.txt',
        'endpoints: endpoints.json',
        'logFile: logs/requests.log',
        '',
      ].join('\n'),
    );
    const o = resolveOptions({ flags: {}, env: {}, file });
    expect(o.secretOut).toBe(path.join(dir, 'conf', 'secrets', 'scanner.json'));
    expect(o.certificateFile).toBe(path.join(dir, 'conf', 'cert.pem'));
    expect(o.handoffOut).toBe(path.join(dir, 'handoff.txt'));
    expect(o.endpoints).toBe(path.join(dir, 'conf', 'endpoints.json'));
    expect(o.logFile).toBe(path.join(dir, 'conf', 'logs', 'requests.log'));

    const abs = tmpFile('c.yaml', 'secretOut: /run/secrets/s.json\n');
    expect(resolveOptions({ flags: {}, env: {}, file: abs }).secretOut).toBe('/run/secrets/s.json');

    const given = resolveOptions({
      flags: { secretOut: 'flag.json' },
      env: { SENDASAPP_LOG_FILE: 'env.log' },
      file,
    });
    expect(given.secretOut).toBe('flag.json');
    expect(given.logFile).toBe('env.log');
  });
});

describe('no raw zod text reaches the user', () => {
  const RAW = /Invalid input|Invalid option|received|expected (string|number|boolean|array)|\bNaN\b|Too (small|big)/;
  const WRONG: unknown[] = [42, 1.5, true, 'zz zz', [], ['x'], { a: 1 }, null];

  it.each(OPTION_SPECS.map((s) => s.key))('%s: every wrong value is named and explained', (key) => {
    let refused = 0;
    for (const value of WRONG) {
      const spec = OPTION_SPECS.find((s) => s.key === key)!;
      const r = spec.schema.safeParse(value);
      if (r.success) continue; // e.g. the string "zz zz" is a fine group name
      refused++;
      const message = r.error.issues[0]!.message;
      expect(message, `${key} = ${JSON.stringify(value)}`).not.toMatch(RAW);
      expect(message, `${key} = ${JSON.stringify(value)}`).toMatch(/^(must|is)\b/);
      // Through a config file, the message names the file key.
      const file = tmpFile('c.json', JSON.stringify({ [key]: value }));
      const err = errorOf(() => readConfigFile(file));
      expect(err.field.startsWith(`${file}: ${key}`)).toBe(true);
      expect(err.message).not.toMatch(RAW);
    }
    expect(refused).toBeGreaterThanOrEqual(WRONG.length - 2);
  });

  it('--wait 10 and a wait of NaN say the allowed form', () => {
    const err = errorOf(() => resolveOptions({ flags: { wait: '10' }, env: {} }));
    expect(err.message).toContain('must be a duration such as');
    const file = tmpFile('c.json', '{"wait": 30}');
    expect(errorOf(() => resolveOptions({ flags: {}, env: {}, file })).message).toMatch(/written as a string/);
  });
});

describe('the JSON Schema and validation agree', () => {
  const schema = { ...(configJsonSchema() as Record<string, unknown>) };
  delete schema.$schema; // draft 2020-12 keywords used here are all draft-07 ones (ajv 6)
  delete schema.$id;
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const byValidation = (data: Record<string, unknown>): boolean => {
    try {
      resolveOptions({ flags: {}, env: {}, file: tmpFile('c.json', JSON.stringify(data)) });
      return true;
    } catch (err) {
      if (err instanceof ConfigError) return false;
      throw err;
    }
  };

  it.each([
    [{ tenant: 'contoso.onmicrosoft.com', mailboxes: ['Scanner@Contoso.com'], wait: '45m', secretLifetime: '180d' }],
    [{ appId: '7EC603CF-7BD1-49FC-B809-C050873E6217', wait: 0 }],
    [{ timeout: '90s', verbose: true, newSecret: true, logFile: 'r.log', exchange: 'auto' }],
    [{ sendTo: 'Me@Contoso.com', verify: 'send' }],
  ])('accepted by both: %j', (data) => {
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(byValidation(data)).toBe(true);
  });

  it.each([
    [{ wait: 30 }],
    [{ secretLifetime: 180 }],
    [{ timeout: 60 }],
    [{ wait: true }],
    [{ verbose: 'yes' }],
    [{ exchange: 'graph' }],
    [{ mailboxes: 'a@contoso.com' }],
    [{ tennant: 'x' }],
  ])('rejected by both: %j', (data) => {
    expect(validate(data)).toBe(false);
    expect(byValidation(data)).toBe(false);
  });

  it('documents durations as strings (and 0), never as any number', () => {
    const props = (configJsonSchema() as { properties: Record<string, Record<string, unknown>> }).properties;
    for (const key of ['wait', 'secretLifetime', 'timeout']) {
      const text = JSON.stringify(props[key]);
      expect(text, key).not.toContain('"type":["string","number"]');
      expect(text, key).toContain('"type":"string"');
    }
  });
});
