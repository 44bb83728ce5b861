/**
 * The fleet file: every entry is its defaults with its own keys over them, validated as a whole through the config
 * file's schemas before anything runs; a bad entry is named with its field; relative paths are the fleet file's.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { FLEET_OPTIONS, fleetJsonSchema, readFleet, type ConfigError } from '../../src/config/index.js';
import { FLEET_FLAGS } from '../../src/cli/fleet-options.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-fleet-config-'));
let n = 0;
function fleetFile(text: string): string {
  const file = path.join(dir, `fleet-${++n}.yaml`);
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('no error thrown');
}

const GOOD = `
defaults:
  appName: Contoso Relay
  mailboxAccess: send-as
  wait: 5m
tenants:
  - tenant: Contoso.onmicrosoft.com
    mailboxes: [scanner@contoso.com]
    secretOut: secrets/contoso.json
  - name: fab
    tenant: fabrikam.onmicrosoft.com
    group: smtp-senders
    mailboxAccess: rbac
`;

describe('fleet file', () => {
  it('gives each entry its defaults with its own keys over them, names defaulting to the tenant', () => {
    const fleet = readFleet(fleetFile(GOOD), { flags: {}, env: {} });
    expect(fleet.entries.map((e) => [e.name, e.tenant])).toEqual([
      ['Contoso.onmicrosoft.com', 'Contoso.onmicrosoft.com'],
      ['fab', 'fabrikam.onmicrosoft.com'],
    ]);
    const [contoso, fab] = fleet.entries.map((e) => e.options);
    expect(contoso!.appName).toBe('Contoso Relay');
    expect(contoso!.mailboxAccess).toBe('send-as');
    expect(contoso!.tenant).toBe('contoso.onmicrosoft.com');
    expect(fab!.mailboxAccess).toBe('rbac');
    expect(fab!.group).toBe('smtp-senders');
    expect(fab!.wait.ms).toBe(5 * 60_000);
    // Built-in defaults still apply below the file's.
    expect(fab!.credential).toBe('secret');
  });

  it("resolves a relative path from the fleet file's directory, not the working directory", () => {
    const file = fleetFile(GOOD);
    const fleet = readFleet(file, { flags: {}, env: {} });
    expect(fleet.entries[0]!.options.secretOut).toBe(path.join(path.dirname(file), 'secrets/contoso.json'));
  });

  it('puts flags and variables over every entry (here --wait), and refuses a per-tenant flag or variable', () => {
    const file = fleetFile(GOOD);
    const fleet = readFleet(file, { flags: { wait: '10s' }, env: {} });
    expect(fleet.entries.map((e) => e.options.wait.ms)).toEqual([10_000, 10_000]);
    expect(errorOf(() => readFleet(file, { flags: { tenant: 'x.com' }, env: {} })).field).toBe('--tenant');
    expect(errorOf(() => readFleet(file, { flags: { mailbox: ['a@b.com'] }, env: {} })).field).toBe('--mailbox');
    expect(errorOf(() => readFleet(file, { flags: {}, env: { SENDASAPP_SECRET_OUT: 's.json' } })).field).toBe(
      'SENDASAPP_SECRET_OUT',
    );
  });

  it('names the entry and the field of a bad value: tenants[1] (contoso): mailboxes[0]', () => {
    const file = fleetFile(`
tenants:
  - tenant: a.onmicrosoft.com
    mailboxes: [a@a.com]
  - name: contoso
    tenant: contoso.onmicrosoft.com
    mailboxes: [not-an-address]
`);
    const err = errorOf(() => readFleet(file, { flags: {}, env: {} }));
    expect(err.name).toBe('ConfigError');
    expect(err.field).toBe(`${file}: tenants[1] (contoso): mailboxes[0]`);
    expect(err.reason).toMatch(/must be a mailbox address/);
  });

  it('names an unknown key, a missing tenant or mailbox, a bad default, and a name used twice', () => {
    const unknown = errorOf(() =>
      readFleet(fleetFile('tenants:\n  - tenant: a.onmicrosoft.com\n    mailbox: [a@a.com]\n'), { flags: {}, env: {} }),
    );
    expect(unknown.field).toMatch(/tenants\[0\] \(a\.onmicrosoft\.com\): mailbox$/);
    expect(unknown.reason).toMatch(/is not an option; allowed: name, tenant/);
    const noTenant = errorOf(() =>
      readFleet(fleetFile('tenants:\n  - mailboxes: [a@a.com]\n'), { flags: {}, env: {} }),
    );
    expect(noTenant.field).toMatch(/tenants\[0\]: tenant$/);
    const noMailbox = errorOf(() =>
      readFleet(fleetFile('tenants:\n  - tenant: a.onmicrosoft.com\n'), { flags: {}, env: {} }),
    );
    expect(noMailbox.field).toMatch(/tenants\[0\] \(a\.onmicrosoft\.com\): mailboxes$/);
    const badDefault = errorOf(() =>
      readFleet(fleetFile('defaults:\n  mailboxAccess: sometimes\ntenants:\n  - tenant: a.onmicrosoft.com\n'), {
        flags: {},
        env: {},
      }),
    );
    expect(badDefault.field).toMatch(/defaults\.mailboxAccess$/);
    const twice = errorOf(() =>
      readFleet(
        fleetFile(
          'tenants:\n  - tenant: a.onmicrosoft.com\n    mailboxes: [a@a.com]\n  - name: A.onmicrosoft.com\n    tenant: b.onmicrosoft.com\n    mailboxes: [b@b.com]\n',
        ),
        { flags: {}, env: {} },
      ),
    );
    expect(twice.field).toMatch(/tenants\[1\] \(A\.onmicrosoft\.com\): name$/);
    expect(twice.reason).toMatch(/tenants\[0\]/);
  });

  it('checks the combinations of each entry as for one tenant (sendTo without verify send)', () => {
    const err = errorOf(() =>
      readFleet(fleetFile('tenants:\n  - tenant: a.onmicrosoft.com\n    mailboxes: [a@a.com]\n    sendTo: x@y.com\n'), {
        flags: {},
        env: {},
      }),
    );
    expect(err.field).toMatch(/tenants\[0\] \(a\.onmicrosoft\.com\): sendTo$/);
  });

  it('has a JSON Schema that accepts the good file and refuses the bad entry, and one option table for the flags', () => {
    const schema = { ...fleetJsonSchema() };
    delete schema.$schema; // draft 2020-12 keywords used here are all draft-07 ones (ajv 6)
    delete schema.$id;
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const good = parse(GOOD) as unknown;
    expect(validate(good), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ tenants: [{ tenant: 'a.onmicrosoft.com', mailbox: [] }] })).toBe(false);
    expect(validate({ tenants: [] })).toBe(false);
    expect(FLEET_FLAGS.map((f) => [f.key, f.flag, f.env])).toEqual(FLEET_OPTIONS.map((f) => [f.key, f.flag, f.env]));
  });
});
