/**
 * `sendasapp setup` as a person uses it: the built CLI in a real pseudo-terminal (see terminal.ts), keys typed
 * into @inquirer/prompts, against the emulator. The tenant is checked in the emulator afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';
import { appKey, appsByName } from '../helpers/e2e.js';
import { KEY, runInTerminal, type Terminal } from './terminal.js';

const CONTOSO = 'contoso.onmicrosoft.com';
const FABRIKAM = 'fabrikam.onmicrosoft.com';
const SCANNER = 'scanner@fabrikam.onmicrosoft.com';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The app's title in plan and apply lines. */
const SCANNER_APP = `Application "Scanner SMTP" (${appKey('Scanner SMTP')})`;

/** Waits for a question, then types the keys (an answer and Enter, or a bare Enter for the default). */
async function step(term: Terminal, question: RegExp, keys: string): Promise<void> {
  await term.waitFor(question);
  await sleep(60);
  term.type(keys);
}

describe('setup: Business Central, app in contoso, mailboxes in fabrikam', () => {
  let emu: TestEmulator;
  let dir: string;
  let term: Terminal;
  let code: number | null;
  let screen: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-setup-'));
    term = runInTerminal(['setup', '--endpoints', emu.endpointsFile], {}, dir);
    // An invalid answer is asked again, with the reason.
    await step(term, /Mailbox tenant \(where the mailboxes live/, 'fabrikam\r');
    await term.waitFor(/must be a tenant id \(GUID\) or a verified domain such as contoso\.onmicrosoft\.com/);
    term.type('\x7f'.repeat('fabrikam'.length));
    term.type(`${FABRIKAM}\r`);
    await step(term, /Is the app registered in fabrikam\.onmicrosoft\.com\?/, 'N\r');
    await step(term, /Home tenant of the app/, `${CONTOSO}\r`);
    await step(term, /Which system will send the mail\?/, '\r'); // Business Central is the first choice
    await step(term, /How does Business Central get its tokens\?/, '\r'); // client credentials
    await step(term, /Which app will send\?/, '\r'); // a new app registration
    await step(term, /App name/, '\r'); // "Business Central SMTP"
    await term.waitFor(/Multitenant.*yes \(cross-tenant\)/);
    await term.waitFor(/Credential of the app: client secret \(Business Central cannot use certificates\)/);
    await step(term, /Lifetime of the new secret/, '\r');
    await step(term, /Which mailboxes will Business Central send as\?/, '\r');
    await step(term, /Mailboxes \(comma-separated\)/, 'scanner\r');
    await term.waitFor(/must be a mailbox address such as scanner@contoso\.com/);
    term.type('\x7f'.repeat('scanner'.length) + `${SCANNER}\r`);
    // rbac is the first choice (recommended); this setup follows the Business Central guide: FullAccess.
    await step(term, /How does Exchange let the app into the mailboxes\?/, `${KEY.down}\r`);
    await step(term, /SMTP AUTH is off/, '\r'); // enable for these mailboxes
    await step(term, /Business Central on-premises: its OAuthLanding\.htm redirect URI/, '\r'); // online
    await step(term, /File for the new secret/, `${path.join(dir, 'bc-secret.json')}\r`);
    await step(term, /Save these answers \(no secret\) to the config file/, `${path.join(dir, 'sendasapp.yaml')}\r`);
    await step(term, /Apply \d+ change\(s\) to fabrikam\.onmicrosoft\.com\?/, '\r');
    code = await term.exited;
    screen = term.screen();
    // For the README's transcript: TRANSCRIPT=file writes what the person saw.
    if (process.env.TRANSCRIPT) writeFileSync(process.env.TRANSCRIPT, screen);
  }, 120_000);
  afterAll(async () => emu.close());

  it('asks, applies, proves and ends with the Business Central hand-off', () => {
    expect(code, screen).toBe(0);
    expect(screen).toContain('Applying to fabrikam.onmicrosoft.com');
    expect(screen).toContain('235 2.7.0 Authentication successful');
    expect(screen).toContain('Dynamics 365 Business Central: Set up SMTP Account');
    expect(screen).toContain(`Rerun without questions:  sendasapp apply -f ${path.join(dir, 'sendasapp.yaml')} --yes`);
  });

  it("left the tenants as Microsoft's cross-tenant guide describes, and the hand-off names them", async () => {
    const contoso = await emu.control.tenant(CONTOSO);
    const fabrikam = await emu.control.tenant(FABRIKAM);
    const [app] = appsByName(contoso, 'Business Central SMTP');
    expect(app.signInAudience).toBe('AzureADMultipleOrgs');
    const sp = fabrikam.servicePrincipals.find((s: { appId: string }) => s.appId === app.appId);
    expect(fabrikam.exchange.servicePrincipals).toEqual([
      expect.objectContaining({ AppId: app.appId, ObjectId: sp.id }),
    ]);
    const user = fabrikam.users.find((u: { mail: string }) => u.mail === SCANNER);
    expect(user.mailbox.smtpClientAuthenticationDisabled).toBe(false);
    expect(
      fabrikam.exchange.mailboxPermissions.filter((p: any) => p.mailboxUserId === user.id && p.trustee.id === sp.id),
    ).toHaveLength(1);
    expect(screen).toMatch(new RegExp(`Client Id +${app.appId}`));
    expect(screen).toMatch(new RegExp(`Tenant ID +${fabrikam.id}`));
    const secret = JSON.parse(readFileSync(path.join(dir, 'bc-secret.json'), 'utf8')).credential.secret;
    expect(screen).not.toContain(secret);
  });

  it('wrote the config file without a secret, and `apply -f <file> --yes` reruns it with no write', async () => {
    const file = path.join(dir, 'sendasapp.yaml');
    const text = readFileSync(file, 'utf8');
    const config = parseYaml(text);
    expect(config).toEqual({
      tenant: FABRIKAM,
      homeTenant: CONTOSO,
      appName: 'Business Central SMTP',
      multiTenant: true,
      mailboxes: [SCANNER],
      mailboxAccess: 'full-access',
      credential: 'secret',
      secretLifetime: '12mo',
      secretOut: path.join(dir, 'bc-secret.json'),
      enableSmtpAuth: 'mailbox',
      target: 'business-central',
      endpoints: emu.endpointsFile,
    });
    const secret = JSON.parse(readFileSync(path.join(dir, 'bc-secret.json'), 'utf8')).credential.secret;
    expect(text).not.toContain(secret);
    await emu.control.clearLog();
    const rerun = await runCli(['apply', '-f', file, '--yes', '--output', 'json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const out = rerun.json<Record<string, any>>();
    expect(out.changed).toBe(false);
    expect(out.verification.status).toBe('passed');
    expect((await emu.control.log()).filter((e) => e.write && e.service !== 'smtp')).toEqual([]);
  });
});

describe('setup: Ctrl-C', () => {
  let emu: TestEmulator;
  let dir: string;
  // Most answers come as flags (they are shown as answered and not asked).
  const flags = (): string[] => [
    'setup',
    '--endpoints',
    emu.endpointsFile,
    '--tenant',
    CONTOSO,
    '--target',
    'env',
    '--flow',
    'app',
    '--app-name',
    'Scanner SMTP',
    '--credential',
    'secret',
    '--secret-lifetime',
    '90d',
    '--mailbox',
    'scanner@contoso.onmicrosoft.com',
    '--mailbox',
    'ap@contoso.onmicrosoft.com',
    '--mailbox-access',
    'send-as',
    '--enable-smtp-auth',
    'mailbox',
    '--secret-out',
    path.join(dir, 'scanner-secret.json'),
  ];

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-setup-ctrlc-'));
  });
  afterAll(async () => emu.close());

  it('at a question: exit 130, nothing changed, no config file', async () => {
    await emu.control.clearLog();
    const term = runInTerminal(flags(), {}, dir);
    await term.waitFor(/✔ Mailbox tenant.*contoso\.onmicrosoft\.com \(--tenant\)/);
    await step(term, /Is the app registered in contoso\.onmicrosoft\.com\?/, '\r');
    await step(term, /Multitenant/, '\x03');
    expect(await term.exited).toBe(130);
    expect(term.screen()).toContain('Cancelled: nothing was changed.');
    expect(await emu.control.log()).toEqual([]);
  }, 60_000);

  it('at the confirmation after the plan: exit 130, the tenant read but not changed, the answers kept', async () => {
    await emu.control.clearLog();
    const term = runInTerminal(flags(), {}, dir);
    await step(term, /Is the app registered in contoso\.onmicrosoft\.com\?/, '\r');
    await step(term, /Multitenant/, '\r');
    await step(term, /Save these answers/, `${path.join(dir, 'first.yaml')}\r`);
    await term.waitFor(new RegExp(`${escapeRe(SCANNER_APP)}: will be created`));
    await step(term, /Apply \d+ change\(s\) to contoso\.onmicrosoft\.com\?/, '\x03');
    expect(await term.exited).toBe(130);
    expect(term.screen()).toContain('Cancelled: nothing was changed.');
    const log = await emu.control.log();
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((e) => e.write)).toEqual([]);
    // The answers were saved before the tenant was read (a rerun needs no questions); no secret file was made.
    expect(parseYaml(readFileSync(path.join(dir, 'first.yaml'), 'utf8'))).toMatchObject({
      tenant: CONTOSO,
      appName: 'Scanner SMTP',
    });
    expect(existsSync(path.join(dir, 'scanner-secret.json'))).toBe(false);
  }, 60_000);

  it('during apply: exit 130, says what changed, and a rerun of the config file converges', async () => {
    // Slow Exchange down so that the interrupt lands in the middle of the run.
    await emu.control.setKnobs({ latency: { token: 0, graph: 300, exchange: 1500, smtp: 0 } });
    const term = runInTerminal(flags(), {}, dir);
    const config = path.join(dir, 'sendasapp.yaml');
    await step(term, /Is the app registered in contoso\.onmicrosoft\.com\?/, '\r');
    await step(term, /Multitenant/, '\r');
    await step(term, /Save these answers/, `${config}\r`);
    await step(term, /Apply \d+ change\(s\) to contoso\.onmicrosoft\.com\?/, '\r');
    await term.waitFor(/Applying to contoso\.onmicrosoft\.com/);
    await term.waitFor(new RegExp(`\\+ ${escapeRe(SCANNER_APP)}: created`), 60_000);
    term.press('ctrlC');
    expect(await term.exited).toBe(130);
    const screen = term.screen();
    expect(screen).toContain('Interrupted (SIGINT).');
    expect(screen).toMatch(new RegExp(`Changed before the interrupt:\\n(\\s+~ .*\\n)*\\s+~ ${escapeRe(SCANNER_APP)}`));
    expect(screen).toContain('A rerun converges');
    expect(screen).toContain(`Rerun without questions:  sendasapp apply -f ${config} --yes`);
    // Not everything was done: the run was cut short.
    const t = await emu.control.tenant(CONTOSO);
    const [app] = appsByName(t, 'Scanner SMTP');
    expect(app).toBeDefined();
    const sp = t.servicePrincipals.find((s: { appId: string }) => s.appId === app.appId);
    const granted = sp ? t.exchange.recipientPermissions.filter((p: any) => p.trustee.id === sp.id).length : 0;
    expect(granted).toBeLessThan(2);

    await emu.control.setKnobs({ latency: { token: 0, graph: 0, exchange: 0, smtp: 0 } });
    const rerun = await runCli(['apply', '-f', config, '--yes', '--output', 'json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json<Record<string, any>>().verification.status).toBe('passed');
    const after = await emu.control.tenant(CONTOSO);
    const sp2 = after.servicePrincipals.find((s: { appId: string }) => s.appId === app.appId);
    expect(after.exchange.recipientPermissions.filter((p: any) => p.trustee.id === sp2.id)).toHaveLength(2);
    // The env hand-off of the rerun went to stdout with the JSON result (one object).
    expect(rerun.json<Record<string, any>>().handoff.content).toContain(`OAUTH_CLIENT_ID="${app.appId}"`);
  }, 120_000);
});

describe('setup without a terminal', () => {
  it('refuses with exit 2 and points at apply', async () => {
    const r = await runCli(['setup', '--tenant', CONTOSO]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('setup asks questions and needs a terminal');
    expect(r.stderr).toContain('sendasapp apply -f sendasapp.yaml --yes');
  });
});
