/**
 * The emulated smtp.office365.com, proven with the real nodemailer (XOAUTH2 + STARTTLS) and with raw sockets: each
 * missing provisioning step gives the reply Exchange Online would give.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync, createSign, randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { EXCHANGE_APP_ID, type TenantRecord } from '../../src/emulator/index.js';
import { groupDistinguishedName } from '../../src/emulator/exchange/authorization.js';
import { defaultKnobs } from '../../src/emulator/state.js';
import { loadOrCreatePki, type EmulatorPki } from '../../src/emulator/pki.js';
import { RESOURCES, TokenIssuer } from '../../src/emulator/tokens.js';
import { userTokenClaims } from '../../src/emulator/claims.js';
import { startSmtpService } from '../../src/emulator/smtp/index.js';
import { parseXoauth2 } from '../../src/emulator/smtp/xoauth2.js';

const CONTOSO = 'contoso.onmicrosoft.com';
const FABRIKAM = 'fabrikam.onmicrosoft.com';
const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;
const IT = `it@${CONTOSO}`;

/** `[EM1PR00CA0001.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]` */
const SUFFIX = String.raw`\[[A-Z0-9]+\.namprd00\.prod\.outlook\.com \d{4}-\d\d-\d\dT[\d:.]+Z [0-9A-F]{16}\]`;
const AUTH_5_7_3 = new RegExp(`^535 5\\.7\\.3 Authentication unsuccessful ${SUFFIX}$`);

let emu: TestEmulator;
let pki: EmulatorPki | undefined;

/** The emulator's keys, read from its state directory (its token-signing key, a TLS certificate from its CA). */
function emulatorPki(): EmulatorPki {
  return (pki ??= loadOrCreatePki(emu.stateDir, []));
}

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await emu.control.reset();
  emu.store.world.knobs = defaultKnobs();
});

// ---- building the Exchange state a test needs, directly in the world ----

interface App {
  appId: string;
  /** The enterprise application (service principal) in the tenant. */
  spId: string;
  /** The app registration object. */
  appObjectId: string;
}

function tenant(domain = CONTOSO): TenantRecord {
  return emu.store.findTenant(domain)!;
}

function mailbox(address: string) {
  const t = tenant(address.split('@')[1]);
  return t.users.find((u) => u.entity.mail === address)!;
}

/** An app registered in the tenant, its service principal, and its Exchange app roles granted (admin consent). */
function registerApp(domain = CONTOSO, roles: string[] = ['SMTP.SendAsApp']): App {
  const t = tenant(domain);
  const app: App = { appId: randomUUID(), spId: randomUUID(), appObjectId: randomUUID() };
  emu.store.world.applications.push({
    entity: {
      id: app.appObjectId,
      appId: app.appId,
      displayName: 'Scan to mail',
      uniqueName: null,
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess: [],
      passwordCredentials: [],
      keyCredentials: [],
    },
    meta: { createdAtMs: 0 },
    homeTenantId: t.id,
    secrets: [],
  });
  t.servicePrincipals.push({
    entity: {
      id: app.spId,
      appId: app.appId,
      displayName: 'Scan to mail',
      appRoles: [],
      appOwnerOrganizationId: t.id,
      servicePrincipalType: 'Application',
    },
    meta: { createdAtMs: 0 },
    directoryRoles: [],
    firstParty: false,
  });
  const exchange = t.servicePrincipals.find((s) => s.entity.appId === EXCHANGE_APP_ID)!;
  for (const value of roles) {
    const role = exchange.entity.appRoles.find((r) => r.value === value)!;
    t.appRoleAssignments.push({
      entity: {
        id: randomUUID(),
        appRoleId: role.id,
        principalId: app.spId,
        resourceId: exchange.entity.id,
        principalType: 'ServicePrincipal',
        principalDisplayName: 'Scan to mail',
        resourceDisplayName: exchange.entity.displayName,
        createdDateTime: new Date().toISOString(),
        deletedDateTime: null,
      },
      meta: { createdAtMs: 0 },
    });
  }
  return app;
}

/** New-ServicePrincipal -AppId … -ObjectId <objectId> (the right one is the enterprise app's). */
function newServicePrincipal(app: App, objectId = app.spId, domain = CONTOSO, createdAtMs = 0): void {
  tenant(domain).exchange.servicePrincipals.push({
    Identity: objectId,
    AppId: app.appId,
    ObjectId: objectId,
    DisplayName: 'Scan to mail',
    createdAtMs,
  });
}

function addFullAccess(app: App, address: string, grantedAtMs = 0): void {
  tenant(address.split('@')[1]).exchange.mailboxPermissions.push({
    mailboxUserId: mailbox(address).entity.id,
    trustee: { kind: 'servicePrincipal', id: app.spId },
    accessRights: ['FullAccess'],
    inheritanceType: 'All',
    autoMapping: false,
    grantedAtMs,
  });
}

function addSendAs(app: App, address: string): void {
  tenant(address.split('@')[1]).exchange.recipientPermissions.push({
    mailboxUserId: mailbox(address).entity.id,
    trustee: { kind: 'servicePrincipal', id: app.spId },
    accessRights: ['SendAs'],
    grantedAtMs: 0,
  });
}

/** Set-CASMailbox -SmtpClientAuthenticationDisabled <value>. */
function setCasMailbox(address: string, disabled: boolean | null): void {
  mailbox(address).mailbox!.smtpClientAuthenticationDisabled = disabled;
}

/** Every step of the vendor guides done for one mailbox; returns the app and an Exchange token. */
function provisioned(address = SCANNER): { app: App; token: string } {
  const app = registerApp();
  newServicePrincipal(app);
  addFullAccess(app, address);
  setCasMailbox(address, false);
  return { app, token: emu.mintAppToken(CONTOSO, app.appId, 'exchange') };
}

function transport(user: string, accessToken: string, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({
    host: emu.endpoints.smtp.host,
    port: emu.endpoints.smtp.port,
    secure: false,
    requireTLS: true,
    tls: { ca: emu.ca },
    auth: { type: 'OAuth2', user, accessToken },
    ...extra,
  });
}

interface SmtpError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

async function failure(run: () => Promise<unknown>): Promise<SmtpError> {
  try {
    await run();
  } catch (err) {
    return err as SmtpError;
  }
  throw new Error('expected the SMTP exchange to fail, it succeeded');
}

async function verifyFails(user: string, token: string): Promise<SmtpError> {
  const t = transport(user, token);
  try {
    return await failure(() => t.verify());
  } finally {
    t.close();
  }
}

async function verifies(user: string, token: string): Promise<boolean> {
  const t = transport(user, token);
  try {
    return await t.verify();
  } finally {
    t.close();
  }
}

/** Re-signs a token's claims with a key (the emulator's own, or another one to forge it). */
function resign(token: string, change: (claims: Record<string, unknown>) => void, key?: string): string {
  const [header, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  if (!key) return new TokenIssuer(emulatorPki()).sign(claims);
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(key).toString('base64url')}`;
}

describe('SMTP AUTH XOAUTH2 with nodemailer', () => {
  it('signs in once the app, New-ServicePrincipal, FullAccess and mailbox SMTP AUTH are all in place', async () => {
    const { token } = provisioned();
    expect(await verifies(SCANNER, token)).toBe(true);
  });

  it('answers 535 5.7.3 when the app has no Exchange service principal (New-ServicePrincipal not run)', async () => {
    const app = registerApp();
    addFullAccess(app, SCANNER);
    setCasMailbox(SCANNER, false);
    const err = await verifyFails(SCANNER, emu.mintAppToken(CONTOSO, app.appId, 'exchange'));
    expect(err.code).toBe('EAUTH');
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(AUTH_5_7_3);
  });

  it('answers 535 5.7.3 when New-ServicePrincipal was given the app registration object id, not the enterprise app’s', async () => {
    const app = registerApp();
    newServicePrincipal(app, app.appObjectId);
    addFullAccess(app, SCANNER);
    setCasMailbox(SCANNER, false);
    const err = await verifyFails(SCANNER, emu.mintAppToken(CONTOSO, app.appId, 'exchange'));
    expect(err.response).toMatch(AUTH_5_7_3);
  });

  it('answers 535 5.7.3 without FullAccess on the mailbox, and signs in for the mailbox that has it', async () => {
    const { token } = provisioned(SCANNER);
    setCasMailbox(AP, false);
    expect((await verifyFails(AP, token)).response).toMatch(AUTH_5_7_3);
    expect(await verifies(SCANNER, token)).toBe(true);
  });

  it('answers 535 5.7.3 for a token without roles (SMTP.SendAsApp never consented)', async () => {
    const app = registerApp(CONTOSO, []);
    newServicePrincipal(app);
    addFullAccess(app, SCANNER);
    setCasMailbox(SCANNER, false);
    const token = emu.mintAppToken(CONTOSO, app.appId, 'exchange');
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).roles).toBeUndefined();
    expect((await verifyFails(SCANNER, token)).response).toMatch(AUTH_5_7_3);
  });

  it('answers 535 5.7.3 for a token issued for Microsoft Graph instead of https://outlook.office365.com', async () => {
    const { app } = provisioned();
    const err = await verifyFails(SCANNER, emu.mintAppToken(CONTOSO, app.appId, 'graph'));
    expect(err.response).toMatch(AUTH_5_7_3);
  });

  it('answers 535 5.7.3 for an expired token and for a token signed by another key', async () => {
    const { token } = provisioned();
    const expired = resign(token, (c) => {
      c.iat = c.nbf = Math.floor(Date.now() / 1000) - 7200;
      c.exp = Math.floor(Date.now() / 1000) - 3600;
    });
    expect((await verifyFails(SCANNER, expired)).response).toMatch(AUTH_5_7_3);
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const forged = resign(token, () => undefined, otherKey);
    expect((await verifyFails(SCANNER, forged)).response).toMatch(AUTH_5_7_3);
    // The untouched token still works: the failures above were the expiry and the signature.
    expect(await verifies(SCANNER, token)).toBe(true);
  });

  it('answers 535 5.7.3 when user= names a mailbox of another tenant', async () => {
    const { token } = provisioned();
    setCasMailbox(`scanner@${FABRIKAM}`, false);
    expect((await verifyFails(`scanner@${FABRIKAM}`, token)).response).toMatch(AUTH_5_7_3);
  });

  it('reports SMTP AUTH disabled for the Tenant when the organization disables it and the mailbox setting is null', async () => {
    const { token } = provisioned();
    setCasMailbox(SCANNER, null);
    expect(tenant().exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    const err = await verifyFails(SCANNER, token);
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(
      new RegExp(
        '^535 5\\.7\\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant\\. ' +
          `Visit https://aka\\.ms/smtp_auth_disabled for more information\\. ${SUFFIX}$`,
      ),
    );
  });

  it('reports SMTP AUTH disabled for the Mailbox when the mailbox says true, even with the organization enabled', async () => {
    const { token } = provisioned();
    tenant().exchange.transportConfig.SmtpClientAuthenticationDisabled = false;
    setCasMailbox(SCANNER, true);
    const err = await verifyFails(SCANNER, token);
    expect(err.response).toMatch(
      /^535 5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox\. Visit https:\/\/aka\.ms\/smtp_auth_disabled for more information\. \[/,
    );
  });

  it('checks the token before the SMTP AUTH settings, and the SMTP AUTH settings before the app’s permissions', async () => {
    const { token } = provisioned();
    setCasMailbox(SCANNER, null);
    const expired = resign(token, (c) => {
      c.exp = Math.floor(Date.now() / 1000) - 3600;
    });
    expect((await verifyFails(SCANNER, expired)).response).toMatch(AUTH_5_7_3);
    // AP: the app has no FullAccess there, and SMTP AUTH is off for the tenant: the policy is what Exchange reports.
    expect((await verifyFails(AP, token)).response).toMatch(/^535 5\.7\.139 .*disabled for the Tenant\./);
  });

  it('lets mailbox SmtpClientAuthenticationDisabled=false override an organization that disables SMTP AUTH', async () => {
    const { token } = provisioned();
    expect(tenant().exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    setCasMailbox(SCANNER, false);
    expect(await verifies(SCANNER, token)).toBe(true);
  });

  it('reports the security defaults text when the tenant has security defaults on', async () => {
    const { token } = provisioned();
    await emu.control.setPolicy(CONTOSO, { securityDefaults: true });
    const err = await verifyFails(SCANNER, token);
    expect(err.response).toMatch(
      new RegExp(
        "^535 5\\.7\\.139 Authentication unsuccessful, user is locked by your organization's security defaults policy\\. " +
          `Contact your administrator\\. ${SUFFIX}$`,
      ),
    );
  });

  it('refuses basic authentication: LOGIN gets the basic-auth-disabled 535 5.7.139, PLAIN is not offered (504 5.7.4)', async () => {
    provisioned();
    const login = nodemailer.createTransport({
      host: emu.endpoints.smtp.host,
      port: emu.endpoints.smtp.port,
      requireTLS: true,
      tls: { ca: emu.ca },
      auth: { user: SCANNER, pass: 'Summer2024!' },
    });
    const err = await failure(() => login.verify());
    login.close();
    expect(err.command).toBe('AUTH LOGIN');
    expect(err.response).toMatch(
      new RegExp(`^535 5\\.7\\.139 Authentication unsuccessful, basic authentication is disabled\\. ${SUFFIX}$`),
    );
    const plain = nodemailer.createTransport({
      host: emu.endpoints.smtp.host,
      port: emu.endpoints.smtp.port,
      requireTLS: true,
      tls: { ca: emu.ca },
      authMethod: 'PLAIN',
      auth: { user: SCANNER, pass: 'Summer2024!' },
    });
    const plainErr = await failure(() => plain.verify());
    plain.close();
    expect(plainErr.response).toMatch(new RegExp(`^504 5\\.7\\.4 Unrecognized authentication type ${SUFFIX}$`));
  });

  it('requires STARTTLS: MAIL in clear text gets 451 5.7.3, AUTH in clear text 504 5.7.4', async () => {
    const { token } = provisioned();
    const clear = nodemailer.createTransport({
      host: emu.endpoints.smtp.host,
      port: emu.endpoints.smtp.port,
      ignoreTLS: true,
    });
    const err = await failure(() => clear.sendMail({ from: SCANNER, to: AP, subject: 's', text: 't' }));
    clear.close();
    expect(err.command).toBe('MAIL FROM');
    expect(err.response).toMatch(new RegExp(`^451 5\\.7\\.3 STARTTLS is required to send mail ${SUFFIX}$`));
    // EHLO offers no AUTH in clear text (nodemailer would skip it), so force it as a careless client would.
    const clearAuth = transport(SCANNER, token, { requireTLS: false, ignoreTLS: true, forceAuth: true });
    const authErr = await failure(() => clearAuth.verify());
    clearAuth.close();
    expect(authErr.response).toMatch(new RegExp(`^504 5\\.7\\.4 Unrecognized authentication type ${SUFFIX}$`));
  });

  it('answers MAIL FROM without AUTH inside TLS with 530 5.7.57', async () => {
    provisioned();
    const anonymous = nodemailer.createTransport({
      host: emu.endpoints.smtp.host,
      port: emu.endpoints.smtp.port,
      requireTLS: true,
      tls: { ca: emu.ca },
    });
    const err = await failure(() => anonymous.sendMail({ from: SCANNER, to: AP, subject: 's', text: 't' }));
    anonymous.close();
    expect(err.responseCode).toBe(530);
    expect(err.response).toMatch(new RegExp(`^530 5\\.7\\.57 Client not authenticated to send mail\\. ${SUFFIX}$`));
  });

  it('keeps answering 535 5.7.3 while the permission cache has not seen a fresh grant, then signs in', async () => {
    emu.store.world.knobs.permissionCacheSeconds = 1;
    const app = registerApp();
    const grantedAt = Date.now();
    newServicePrincipal(app, app.spId, CONTOSO, grantedAt);
    addFullAccess(app, SCANNER, grantedAt);
    setCasMailbox(SCANNER, false);
    const token = emu.mintAppToken(CONTOSO, app.appId, 'exchange');
    expect((await verifyFails(SCANNER, token)).response).toMatch(AUTH_5_7_3);
    const wait = grantedAt + 1_050 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    expect(await verifies(SCANNER, token)).toBe(true);
  });

  it('refuses a From of another mailbox with 554 5.2.252 SendAsDenied at the end of DATA', async () => {
    const { token } = provisioned();
    const t = transport(SCANNER, token);
    const err = await failure(() => t.sendMail({ from: AP, to: 'someone@example.com', subject: 'Scan', text: 'x' }));
    t.close();
    expect(err.command).toBe('DATA');
    expect(err.responseCode).toBe(554);
    expect(err.response).toMatch(
      /^554 5\.2\.252 SendAsDenied; scanner@contoso\.onmicrosoft\.com not allowed to send as ap@contoso\.onmicrosoft\.com; STOREDRV\.Submission\.Exception:SendAsDeniedException\.MapiExceptionSendAsDenied; .*\[Hostname=[A-Z0-9.]+\]$/,
    );
    expect(await emu.control.messages(AP)).toEqual([]);
  });

  it('accepts a From of another mailbox once the app has SendAs on it, and files it under that mailbox', async () => {
    const { app, token } = provisioned();
    addSendAs(app, AP);
    const t = transport(SCANNER, token);
    const info = await t.sendMail({ from: AP, to: 'someone@example.com', subject: 'Invoice', text: 'x' });
    t.close();
    expect(info.response).toMatch(/^250 2\.0\.0 OK <[^>]+> \[Hostname=/);
    const stored = await emu.control.messages(AP);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ authenticatedAs: SCANNER, clientAppId: app.appId, mailFrom: AP });
  });

  it('stores an accepted message in the mailbox, visible through the control endpoint', async () => {
    const { app, token } = provisioned();
    const t = transport(SCANNER, token);
    const info = await t.sendMail({
      from: `"Scanner" <${SCANNER}>`,
      to: ['a@example.com', 'b@example.com'],
      subject: 'Scan 0042',
      text: 'Dear AP,\n.\nA line with a single dot above.',
    });
    t.close();
    expect(info.response).toBe(`250 2.0.0 OK ${info.messageId} [Hostname=EM1PR00MB0001.NAMPRD00.PROD.OUTLOOK.COM]`);
    const stored = await emu.control.messages(SCANNER);
    expect(stored).toHaveLength(1);
    const message = stored[0]!;
    expect(message).toMatchObject({
      authenticatedAs: SCANNER,
      clientAppId: app.appId,
      mailFrom: SCANNER,
      rcptTo: ['a@example.com', 'b@example.com'],
    });
    expect(message.raw).toContain('Subject: Scan 0042');
    expect(message.raw).toContain('\r\n.\r\nA line with a single dot above.');
    expect(message.size).toBe(Buffer.byteLength(message.raw));
  });

  it('keeps the first 64 KiB of a large message and its real size', async () => {
    const { token } = provisioned();
    const t = transport(SCANNER, token);
    await t.sendMail({ from: SCANNER, to: 'a@example.com', subject: 'Big', text: 'x'.repeat(200_000) });
    t.close();
    const [message] = await emu.control.messages(SCANNER);
    expect(Buffer.byteLength(message!.raw)).toBe(64 * 1024);
    expect(message!.size).toBeGreaterThan(200_000);
    expect(message!.raw).toContain('Subject: Big');
  });

  it('lets an app without roles in through an RBAC assignment whose MemberOfGroup scope covers the mailbox only', async () => {
    const t = tenant();
    t.exchange.transportConfig.SmtpClientAuthenticationDisabled = false;
    const app = registerApp(CONTOSO, []);
    newServicePrincipal(app);
    const group = t.groups.find((g) => g.entity.displayName === 'smtp-senders')!;
    t.exchange.managementScopes.push({
      Name: 'SMTP senders',
      RecipientRestrictionFilter: `MemberOfGroup -eq '${groupDistinguishedName(t, group)}'`,
      Identity: 'SMTP senders',
      createdAtMs: 0,
    });
    t.exchange.managementRoleAssignments.push({
      Name: `Application SMTP.SendAsApp-${app.appId}`,
      Role: 'Application SMTP.SendAsApp',
      App: app.appId,
      CustomResourceScope: 'SMTP senders',
      Identity: `Application SMTP.SendAsApp-${app.appId}`,
      createdAtMs: 0,
    });
    const token = emu.mintAppToken(CONTOSO, app.appId, 'exchange');
    expect(await verifies(SCANNER, token)).toBe(true);
    expect((await verifyFails(IT, token)).response).toMatch(AUTH_5_7_3);
  });

  it('signs in a delegated SMTP.Send token for the signed-in user’s own mailbox only', async () => {
    setCasMailbox(SCANNER, false);
    setCasMailbox(AP, false);
    const exchange = RESOURCES.find((x) => x.appId === EXCHANGE_APP_ID)!;
    const claims = userTokenClaims(tenant(), mailbox(SCANNER), randomUUID(), exchange, ['SMTP.Send']);
    const token = new TokenIssuer(emulatorPki()).sign(claims);
    expect(await verifies(SCANNER, token)).toBe(true);
    expect((await verifyFails(AP, token)).response).toMatch(AUTH_5_7_3);
  });

  it('logs every AUTH and DATA with status, tenant and caller, never the token', async () => {
    const { app, token } = provisioned();
    setCasMailbox(AP, false);
    await verifyFails(AP, token);
    const t = transport(SCANNER, token);
    await t.sendMail({ from: SCANNER, to: 'x@example.com', subject: 's', text: 't' });
    t.close();
    const log = await emu.control.log({ service: 'smtp' });
    expect(log.map((e) => [e.method, e.status])).toEqual([
      ['AUTH', 535],
      ['AUTH', 235],
      ['DATA', 250],
    ]);
    expect(log.every((e) => e.tenantId === tenant().id && e.caller === app.appId && e.path === 'smtp')).toBe(true);
    expect(log[2]!.write).toBe(true);
    expect(JSON.stringify(log)).not.toContain(token.split('.')[2]);
  });
});

// ---- the wire, with raw sockets ----

/** A line-oriented SMTP client: one reply (all its lines) per read. */
class Wire {
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;

  constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('utf8');
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port = emu.endpoints.smtp.port): Promise<{ wire: Wire; banner: string }> {
    const socket = net.connect(port, '127.0.0.1');
    const wire = new Wire(socket);
    const [banner] = await wire.read();
    return { wire, banner: banner! };
  }

  /** The next complete reply, or [] when the server closed the connection (or said nothing within `ms`). */
  async read(ms = 5_000): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const lines = this.buffer.split('\r\n');
      const end = lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
      if (end >= 0 && end < lines.length - 1) {
        this.buffer = lines.slice(end + 1).join('\r\n');
        return lines.slice(0, end + 1);
      }
      if (this.closed || Date.now() >= deadline) return [];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async cmd(line: string, ms?: number): Promise<string[]> {
    this.socket.write(line + '\r\n');
    return this.read(ms);
  }

  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    expect(await this.cmd('STARTTLS')).toEqual(['220 2.0.0 SMTP server ready']);
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, ca: emu.ca, servername: 'localhost', ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  end(): void {
    this.socket.destroy();
  }
}

function xoauth2(user: string, token: string): string {
  return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}

const EHLO_CLEAR = [
  '250-EM1PR00CA0001.outlook.office365.com Hello [127.0.0.1]',
  '250-SIZE 157286400',
  '250-PIPELINING',
  '250-DSN',
  '250-ENHANCEDSTATUSCODES',
  '250-STARTTLS',
  '250-8BITMIME',
  '250-BINARYMIME',
  '250-CHUNKING',
  '250 SMTPUTF8',
];
const EHLO_TLS = EHLO_CLEAR.map((l) => (l === '250-STARTTLS' ? '250-AUTH LOGIN XOAUTH2' : l));

describe('SMTP on the wire', () => {
  it('greets, lists EHLO capabilities before and after STARTTLS as Exchange Online does, and signs in in two steps', async () => {
    const { token } = provisioned();
    const { wire, banner } = await Wire.open();
    expect(banner).toMatch(
      /^220 EM1PR00CA0001\.outlook\.office365\.com Microsoft ESMTP MAIL Service ready at (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000 \[[0-9A-F]{16}\]$/,
    );
    const sessionId = /\[([0-9A-F]{16})\]$/.exec(banner)![1]!;
    expect(await wire.cmd('EHLO client.example.com')).toEqual(EHLO_CLEAR);
    const mail = await wire.cmd(`MAIL FROM:<${SCANNER}>`);
    expect(mail[0]).toMatch(new RegExp(`^451 5\\.7\\.3 STARTTLS is required to send mail \\[.* ${sessionId}\\]$`));
    expect((await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`))[0]).toMatch(/^504 5\.7\.4 /);
    const secure = await wire.startTls();
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    expect((await wire.cmd('AUTH XOAUTH2'))[0]).toMatch(/^503 5\.5\.2 Send hello first /);
    expect(await wire.cmd('EHLO client.example.com')).toEqual(EHLO_TLS);
    expect((await wire.cmd(`MAIL FROM:<${SCANNER}>`))[0]).toMatch(
      /^530 5\.7\.57 Client not authenticated to send mail\. \[/,
    );
    expect(await wire.cmd('AUTH XOAUTH2')).toEqual(['334 ']);
    expect(await wire.cmd(xoauth2(SCANNER, token))).toEqual(['235 2.7.0 Authentication successful']);
    expect((await wire.cmd('AUTH XOAUTH2'))[0]).toMatch(/^503 5\.5\.2 Auth command already specified /);
    expect(await wire.cmd(`MAIL FROM:<${SCANNER}> BODY=8BITMIME SIZE=100`)).toEqual(['250 2.1.0 Sender OK']);
    expect(await wire.cmd('RCPT TO:<x@example.com>')).toEqual(['250 2.1.5 Recipient OK']);
    expect(await wire.cmd('RSET')).toEqual(['250 2.0.0 Resetting']);
    expect((await wire.cmd('XYZZY'))[0]).toMatch(/^500 5\.3\.3 Unrecognized command /);
    expect(await wire.cmd('QUIT')).toEqual(['221 2.0.0 Service closing transmission channel']);
    wire.end();
  });

  it('answers a refused token with 535 5.7.3 directly, without a JSON error challenge', async () => {
    const { wire } = await Wire.open();
    await wire.cmd('EHLO client.example.com');
    await wire.startTls();
    await wire.cmd('EHLO client.example.com');
    const reply = await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, 'not-a-jwt')}`);
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatch(AUTH_5_7_3);
    wire.end();
  });

  it('completes a TLS 1.0 / 1.1 handshake, then answers 421 4.7.66 and closes (as Exchange Online does)', async () => {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const { wire } = await Wire.open();
      await wire.cmd('EHLO client.example.com');
      const secure = await wire.startTls({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' });
      expect(secure.getProtocol()).toBe(version);
      const reply = await wire.cmd('EHLO client.example.com');
      expect(reply).toHaveLength(1);
      expect(reply[0]).toMatch(
        /^421 4\.7\.66 TLS 1\.0 and 1\.1 are not supported\. Please upgrade\/update your client to support TLS 1\.2\. Visit https:\/\/aka\.ms\/smtp_auth_tls\. \[/,
      );
      expect(await wire.read(2_000)).toEqual([]);
      expect(wire.closed).toBe(true);
      wire.end();
    }
  });

  it('answers 432 4.3.2 to one more authenticated connection than the per-mailbox limit, and takes it once one closes', async () => {
    const { token } = provisioned();
    await emu.control.setKnobs({ smtpLimits: { concurrentConnectionsPerMailbox: 2 } });
    const signIn = async (): Promise<{ wire: Wire; reply: string }> => {
      const { wire } = await Wire.open();
      await wire.cmd('EHLO client.example.com');
      await wire.startTls();
      await wire.cmd('EHLO client.example.com');
      return { wire, reply: (await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`))[0]! };
    };
    try {
      const a = await signIn();
      const b = await signIn();
      expect([a.reply, b.reply]).toEqual([
        '235 2.7.0 Authentication successful',
        '235 2.7.0 Authentication successful',
      ]);
      const c = await signIn();
      expect(c.reply).toMatch(
        /^432 4\.3\.2 Concurrent connections limit exceeded\. Visit https:\/\/aka\.ms\/concurrent_sending for more information\. \[/,
      );
      expect((await c.wire.cmd(`MAIL FROM:<${SCANNER}>`))[0]).toMatch(/^530 5\.7\.57 /);
      await a.wire.cmd('QUIT');
      a.wire.end();
      let d = await signIn();
      for (let i = 0; i < 50 && !d.reply.startsWith('235'); i++) {
        d.wire.end();
        await new Promise((r) => setTimeout(r, 20));
        d = await signIn();
      }
      expect(d.reply).toBe('235 2.7.0 Authentication successful');
      for (const w of [b.wire, c.wire, d.wire]) w.end();
    } finally {
      await emu.control.setKnobs({ smtpLimits: { concurrentConnectionsPerMailbox: 0 } });
    }
  });

  it('throttles a mailbox after continuous SendAs denials: 550 5.2.252 Sender throttled …, distinct from 554 SendAsDenied', async () => {
    const { token } = provisioned();
    await emu.control.setKnobs({ smtpLimits: { continuousErrorLimit: 2, continuousErrorThrottleSeconds: 60 } });
    try {
      const { wire } = await Wire.open();
      await wire.cmd('EHLO client.example.com');
      await wire.startTls();
      await wire.cmd('EHLO client.example.com');
      await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`);
      const sendAsOther = async (): Promise<string> => {
        const mail = (await wire.cmd(`MAIL FROM:<${AP}>`))[0]!;
        if (!mail.startsWith('250')) return mail;
        await wire.cmd('RCPT TO:<x@example.com>');
        await wire.cmd('DATA');
        return (await wire.cmd(`From: ${AP}\r\nSubject: x\r\n\r\nbody\r\n.`))[0]!;
      };
      expect(await sendAsOther()).toMatch(/^554 5\.2\.252 SendAsDenied; /);
      expect(await sendAsOther()).toMatch(/^554 5\.2\.252 SendAsDenied; /);
      expect(await sendAsOther()).toMatch(
        /^550 5\.2\.252 Sender throttled due to continuous send as denied errors\. \[/,
      );
      // Throttled: even a message the app may send is refused for the throttle's time.
      expect((await wire.cmd(`MAIL FROM:<${SCANNER}>`))[0]).toMatch(/^550 5\.2\.252 Sender throttled/);
      wire.end();
    } finally {
      await emu.control.setKnobs({ smtpLimits: { continuousErrorLimit: 0 } });
    }
  });

  it('takes a message in BDAT chunks (CHUNKING), octets exactly as sent', async () => {
    const { token } = provisioned();
    const { wire } = await Wire.open();
    await wire.cmd('EHLO client.example.com');
    await wire.startTls();
    await wire.cmd('EHLO client.example.com');
    expect(await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`)).toEqual(['235 2.7.0 Authentication successful']);
    const part1 = `From: ${SCANNER}\r\nTo: x@example.com\r\nMessage-ID: <chunked-1@client.example.com>\r\nSubject: chunks\r\n\r\n`;
    const part2 = '.\r\nline after a lone dot\r\n';
    await wire.cmd(`MAIL FROM:<${SCANNER}> BODY=BINARYMIME`);
    await wire.cmd('RCPT TO:<x@example.com>');
    expect((await wire.cmd('DATA'))[0]).toMatch(/^503 5\.5\.1 Bad sequence of commands /);
    wire.socket.write(`BDAT ${Buffer.byteLength(part1)}\r\n${part1}`);
    expect(await wire.read()).toEqual([`250 2.6.0 CHUNK received OK, ${Buffer.byteLength(part1)} octets`]);
    wire.socket.write(`BDAT ${Buffer.byteLength(part2)} LAST\r\n${part2}NOOP\r\n`);
    expect(await wire.read()).toEqual([
      '250 2.0.0 OK <chunked-1@client.example.com> [Hostname=EM1PR00MB0001.NAMPRD00.PROD.OUTLOOK.COM]',
    ]);
    expect(await wire.read()).toEqual(['250 2.0.0 OK']);
    wire.end();
    const [stored] = await emu.control.messages(SCANNER);
    expect(stored!.raw).toBe(part1 + part2);
  });

  it("answers out-of-order and malformed commands with Exchange's replies", async () => {
    const { token } = provisioned();
    const { wire } = await Wire.open();
    expect((await wire.cmd(`MAIL FROM:<${SCANNER}>`))[0]).toMatch(/^503 5\.5\.2 Send hello first \[/);
    expect((await wire.cmd('EHLO'))[0]).toMatch(/^501 5\.0\.0 EHLO requires domain address \[/);
    expect((await wire.cmd('EHLO MacBook..'))[0]).toMatch(/^501 5\.5\.4 Invalid domain name \[/);
    expect(await wire.cmd('HELO [127.0.0.1]')).toEqual(['250 EM1PR00CA0001.outlook.office365.com Hello [127.0.0.1]']);
    await wire.startTls();
    expect((await wire.cmd('STARTTLS'))[0]).toMatch(
      /^503 5\.5\.2 Only one STARTTLS command can be issued per session \[/,
    );
    await wire.cmd('EHLO client.example.com');
    expect((await wire.cmd(`AUTH PLAIN ${Buffer.from(`\0${SCANNER}\0pw`).toString('base64')}`))[0]).toMatch(
      /^504 5\.7\.4 Unrecognized authentication type \[/,
    );
    expect(await wire.cmd('AUTH LOGIN')).toEqual(['334 VXNlcm5hbWU6']);
    expect(await wire.cmd(Buffer.from(SCANNER).toString('base64'))).toEqual(['334 UGFzc3dvcmQ6']);
    expect((await wire.cmd(Buffer.from('pw').toString('base64')))[0]).toMatch(
      /^535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled\. \[/,
    );
    expect(await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`)).toEqual(['235 2.7.0 Authentication successful']);
    expect((await wire.cmd('RCPT TO:<x@example.com>'))[0]).toMatch(/^503 5\.5\.2 Need mail command \[/);
    expect((await wire.cmd(`MAIL FROM:<${SCANNER}> SIZE=200000000`))[0]).toMatch(
      /^552 5\.3\.4 Message size exceeds fixed maximum message size \[/,
    );
    expect((await wire.cmd(`MAIL FROM:<${SCANNER}> FOO=BAR`))[0]).toMatch(/^501 5\.5\.4 Unrecognized parameter \[/);
    expect((await wire.cmd('MAIL FROM:scanner'))[0]).toMatch(/^501 5\.1\.7 Invalid address \[/);
    expect(await wire.cmd(`MAIL FROM:<${SCANNER}>`)).toEqual(['250 2.1.0 Sender OK']);
    expect((await wire.cmd(`MAIL FROM:<${SCANNER}>`))[0]).toMatch(/^503 5\.5\.2 Sender already specified \[/);
    expect((await wire.cmd('DATA'))[0]).toMatch(/^503 5\.5\.2 Need rcpt command \[/);
    wire.end();
  });

  it('stop() closes the listener and its sessions at once, a hung one included; port 0 picks a free port', async () => {
    const keys = emulatorPki();
    const listener = await startSmtpService(
      { store: emu.store, issuer: new TokenIssuer(keys), pki: keys },
      { host: '127.0.0.1', port: 0, key: keys.tlsKeyPem, cert: keys.tlsCertPem },
    );
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.port).not.toBe(emu.endpoints.smtp.port);
    const { token } = provisioned();
    emu.store.world.knobs.faults = [{ service: 'smtp', call: 1, kind: 'hang' }];
    const idle = (await Wire.open(listener.port)).wire;
    const hung = (await Wire.open(listener.port)).wire;
    await hung.cmd('EHLO client.example.com');
    await hung.startTls();
    await hung.cmd('EHLO client.example.com');
    expect(await hung.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`, 200)).toEqual([]);
    const started = performance.now();
    await listener.stop();
    expect(performance.now() - started).toBeLessThan(500);
    await Promise.all([idle.read(500), hung.read(500)]);
    expect([idle.closed, hung.closed]).toEqual([true, true]);
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(listener.port, '127.0.0.1');
      s.once('connect', () => resolve(false));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('applies injected SMTP faults to AUTH: 503 → 421 4.3.2, reset → connection dropped, hang → no answer', async () => {
    const { token } = provisioned();
    await emu.control.setKnobs({
      faults: [
        { service: 'smtp', call: 1, kind: '503' },
        { service: 'smtp', call: 2, kind: 'reset' },
        { service: 'smtp', call: 3, kind: 'hang' },
      ],
    });
    const signIn = async (): Promise<{ wire: Wire; reply: string[] }> => {
      const { wire } = await Wire.open();
      await wire.cmd('EHLO client.example.com');
      await wire.startTls();
      await wire.cmd('EHLO client.example.com');
      return { wire, reply: await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`, 400) };
    };
    const first = await signIn();
    expect(first.reply[0]).toMatch(/^421 4\.3\.2 Service not available \[/);
    await first.wire.read(1_000);
    expect(first.wire.closed).toBe(true);
    const second = await signIn();
    expect(second.reply).toEqual([]);
    expect(second.wire.closed).toBe(true);
    const third = await signIn();
    expect(third.reply).toEqual([]);
    expect(third.wire.closed).toBe(false);
    third.wire.end();
    const fourth = await signIn();
    expect(fourth.reply).toEqual(['235 2.7.0 Authentication successful']);
    fourth.wire.end();
    const statuses = (await emu.control.log({ service: 'smtp' })).map((e) => e.status);
    expect(statuses).toEqual([421, 0, 0, 235]);
  });

  it('delays the greeting and the AUTH reply by the SMTP latency knob', async () => {
    const { token } = provisioned();
    const { wire } = await Wire.open();
    await wire.cmd('EHLO client.example.com');
    await wire.startTls();
    await wire.cmd('EHLO client.example.com');
    await emu.control.setKnobs({ latency: { ...defaultKnobs().latency, smtp: 200 } });
    let started = performance.now();
    expect(await wire.cmd(`AUTH XOAUTH2 ${xoauth2(SCANNER, token)}`)).toEqual(['235 2.7.0 Authentication successful']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    wire.end();
    started = performance.now();
    const next = await Wire.open();
    expect(next.banner).toMatch(/^220 /);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    next.wire.end();
  });
});

describe('XOAUTH2 initial response', () => {
  it('decodes user= and the bearer token, and refuses blobs without either', () => {
    expect(parseXoauth2(xoauth2(SCANNER, 'a.b.c'))).toEqual({ user: SCANNER, token: 'a.b.c' });
    expect(parseXoauth2(Buffer.from(`user=${SCANNER}\x01auth=bearer a.b.c\x01\x01`).toString('base64'))).toEqual({
      user: SCANNER,
      token: 'a.b.c',
    });
    expect(parseXoauth2(Buffer.from(`user=${SCANNER}\x01\x01`).toString('base64'))).toBeUndefined();
    expect(parseXoauth2(Buffer.from('auth=Bearer a.b.c\x01\x01').toString('base64'))).toBeUndefined();
    expect(parseXoauth2('not base64!')).toBeUndefined();
  });
});
