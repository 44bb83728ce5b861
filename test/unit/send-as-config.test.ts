/**
 * The send-as options through the one option table: flag, SENDASAPP_* variable (comma-separated), config file key and
 * the published JSON Schema; and the combinations refused before any tenant call (exit 2, the field named).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { ConfigError, configJsonSchema, resolveOptions, sendAsAccountOf } from '../../src/config/index.js';

const IT = 'it@contoso.onmicrosoft.com';
const ANNA = 'anna@contoso.onmicrosoft.com';
const BEN = 'ben@contoso.onmicrosoft.com';

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('send-as options', () => {
  it('come from flags (repeatable), the environment (comma-separated) and a config file', () => {
    const flags = resolveOptions({
      flags: { mailbox: [IT], sendAsUsers: [ANNA, 'Ben@Contoso.onmicrosoft.com', ANNA] },
      env: {},
    });
    expect(flags.sendAsUsers).toEqual([ANNA, BEN]);
    expect(sendAsAccountOf(flags)).toBe(IT);

    const env = resolveOptions({
      flags: {},
      env: {
        SENDASAPP_MAILBOX: IT,
        SENDASAPP_SEND_AS_USERS: `${ANNA}, ${BEN}`,
        SENDASAPP_SEND_AS_GROUP: 'enaio-users',
      },
    });
    expect(env).toMatchObject({ sendAsUsers: [ANNA, BEN], sendAsGroup: 'enaio-users' });

    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-send-as-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, `mailboxes: [${IT}, ${ANNA}]\nsendAsGroup: enaio-users\nsendAsAccount: ${IT}\n`);
    const fromFile = resolveOptions({ flags: {}, env: {}, file });
    expect(sendAsAccountOf(fromFile)).toBe(IT);
    expect(fromFile.sendAsGroup).toBe('enaio-users');
  });

  it('are in the JSON Schema, which accepts a valid file and refuses a bad address', () => {
    const schema = { ...(configJsonSchema() as Record<string, unknown>) };
    delete schema.$schema; // the draft 2020-12 keywords used are all draft-07 ones (ajv 6)
    delete schema.$id;
    const validate = new Ajv().compile(schema);
    expect(validate({ mailboxes: [IT], sendAsUsers: [ANNA], sendAsGroup: 'g', sendAsAccount: IT })).toBe(true);
    expect(validate({ sendAsUsers: ['not an address'] })).toBe(false);
  });

  it('refuse what cannot work, naming the field', () => {
    const several = refusal(() => resolveOptions({ flags: { mailbox: [IT, BEN], sendAsUsers: [ANNA] }, env: {} }));
    expect(several.field).toBe('--send-as-account');
    expect(several.reason).toMatch(/^is required with several --mailbox/);
    const group = refusal(() => resolveOptions({ flags: { group: 'smtp-senders', sendAsUsers: [ANNA] }, env: {} }));
    expect(group.field).toBe('--send-as-account');
    const notOurs = refusal(() =>
      resolveOptions({ flags: { mailbox: [IT], sendAsUsers: [ANNA], sendAsAccount: BEN }, env: {} }),
    );
    expect(notOurs.reason).toContain(`${BEN} is not one of --mailbox`);
    const itself = refusal(() => resolveOptions({ flags: { mailbox: [IT], sendAsUsers: [IT] }, env: {} }));
    expect(itself.field).toBe('--send-as-users');
    const fromEnv = refusal(() =>
      resolveOptions({ flags: {}, env: { SENDASAPP_MAILBOX: IT, SENDASAPP_SEND_AS_USERS: `${ANNA},${IT}` } }),
    );
    expect(fromEnv.field).toBe('SENDASAPP_SEND_AS_USERS');
    const alone = refusal(() => resolveOptions({ flags: { mailbox: [IT], sendAsAccount: IT }, env: {} }));
    expect(alone.reason).toMatch(/goes with --send-as-users or --send-as-group/);
    const bad = refusal(() => resolveOptions({ flags: { mailbox: [IT], sendAsUsers: ['anna'] }, env: {} }));
    expect(bad.field).toBe('--send-as-users (item 1)');
  });
});
