/**
 * Shared bits of the end-to-end scenarios: the default world's names, a run recorder that keeps every stdout and
 * stderr for the leak scan, the leak scan itself, and changes to the operator's permissions in a tenant.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { uniqueNameFor } from '../../src/entra/index.js';
import { GRAPH_APP_ROLES, EXCHANGE_APP_ROLES } from '../../src/emulator/seed.js';
import { newGuid } from '../../src/emulator/state.js';
import type { TestEmulator } from './emulator.js';
import { runCli, type CliOptions, type CliResult } from './cli.js';

export const CONTOSO = 'contoso.onmicrosoft.com';
export const FABRIKAM = 'fabrikam.onmicrosoft.com';
export const EXO_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const SMTP_SEND_AS_APP = '7146a1f0-8703-45b3-9eae-527a64c00995';

export const mailbox = (alias: string, domain: string): string => `${alias}@${domain}`;

/** The app's key (Graph uniqueName) for a display name, as the product computes it. */
export const appKey = (appName: string): string => uniqueNameFor(appName);

/** The apps of a tenant dump under the key of a display name. */
export function appsByName(t: any, appName: string): any[] {
  return t.applications.filter((a: any) => a.uniqueName === appKey(appName));
}

interface NoteLike {
  code: string;
  severity: string;
  text: string;
}

/** A result's notes (a RunResult or the JSON result); throws when it has none, so that no check passes vacuously. */
function notesOf(r: object): NoteLike[] {
  const notes = (r as { notes?: unknown }).notes;
  if (!Array.isArray(notes)) throw new Error('the result has no notes array');
  return notes as NoteLike[];
}

/** The codes of a result's notes (notes are `{ code, severity, text }`; tests match on the code). */
export function noteCodes(r: object): string[] {
  return notesOf(r).map((n) => n.code);
}

/** A result's note of a code (undefined when there is none). */
export function noteOf(r: object, code: string): NoteLike | undefined {
  return notesOf(r).find((n) => n.code === code);
}

/** A JWT (header.payload.): what must never show in any output. */
export const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./;

/** Runs the CLI and keeps its stdout and stderr for the leak scan at the end of a file. */
export class Runs {
  readonly outputs: string[] = [];

  async run(args: string[], o: CliOptions = {}): Promise<CliResult> {
    const r = await runCli(args, o);
    this.outputs.push(r.stdout, r.stderr);
    return r;
  }
}

/** The secret material a sink file holds (secret value, private key), for the leak scan. */
export function sinkSecrets(file: string): string[] {
  if (!existsSync(file)) return [];
  const sink = JSON.parse(readFileSync(file, 'utf8')) as {
    credential: { type: string; secret?: string; privateKeyPem?: string } | null;
  };
  const c = sink.credential;
  if (!c) return [];
  if (c.type === 'secret' && c.secret) return [c.secret];
  if (c.privateKeyPem) return [pemBody(c.privateKeyPem)];
  return [];
}

/** The base64 body of a PEM block (a line of it is enough to recognise a leak). */
export function pemBody(pem: string): string {
  const lines = pem.split(/\r?\n/).filter((l) => l && !l.startsWith('-----'));
  return lines.slice(0, 2).join('');
}

/**
 * Asserts that no output and no entry of the emulator's request log carries a secret, a private key or a JWT.
 * `secrets` are the values that must not appear (client secrets, PEM bodies, the operator secret).
 */
export async function expectNoLeaks(emu: TestEmulator, outputs: string[], secrets: string[]): Promise<void> {
  const log = JSON.stringify(await emu.control.log());
  const all = [...outputs, log];
  const values = [...new Set([...secrets, emu.endpoints.operator.clientSecret])].filter((s) => s.length >= 8);
  expect(values.length).toBeGreaterThan(0);
  for (const text of all) {
    for (const v of values) expect(text.includes(v), `a secret value appears in: ${text.slice(0, 200)}`).toBe(false);
    for (const v of values.filter((x) => x.length > 40))
      // A PEM line or a secret split across lines would still be a leak: look for a 40-character piece too.
      expect(text.includes(v.slice(0, 40))).toBe(false);
    expect(text).not.toMatch(JWT_PATTERN);
    expect(text).not.toMatch(/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/);
  }
}

/**
 * Gives the operator app exactly these app roles in a tenant (Graph and Exchange Online), as an admin who
 * revoked consent would leave it. Role names are those of seed.ts GRAPH_APP_ROLES / EXCHANGE_APP_ROLES.
 */
export function setOperatorRoles(emu: TestEmulator, tenant: string, roles: string[]): void {
  const t = emu.store.findTenant(tenant);
  if (!t) throw new Error(`no tenant ${tenant}`);
  const opAppId = emu.store.world.operator.clientId;
  const op = t.servicePrincipals.find((s) => s.entity.appId === opAppId);
  if (!op) throw new Error(`the operator has no service principal in ${tenant}`);
  t.appRoleAssignments = t.appRoleAssignments.filter((a) => a.entity.principalId !== op.entity.id);
  for (const name of roles) {
    const graphRole = GRAPH_APP_ROLES.find(([, v]) => v === name);
    const exoRole = EXCHANGE_APP_ROLES.find(([, v]) => v === name);
    const roleId = (graphRole ?? exoRole)?.[0];
    if (!roleId) throw new Error(`unknown role ${name}`);
    const resource = t.servicePrincipals.find((s) => s.entity.appId === (graphRole ? GRAPH_APP_ID : EXO_APP_ID))!;
    t.appRoleAssignments.push({
      entity: {
        id: newGuid(),
        appRoleId: roleId,
        principalId: op.entity.id,
        principalType: 'ServicePrincipal',
        principalDisplayName: op.entity.displayName,
        resourceId: resource.entity.id,
        resourceDisplayName: resource.entity.displayName,
        createdDateTime: new Date().toISOString(),
        deletedDateTime: null,
      },
      meta: { createdAtMs: 0 },
    });
  }
  emu.store.changed();
}

/** Objects of the app in a tenant dump, by appId: for counting what a run left behind. */
export function footprint(t: any, appId: string) {
  const sps = t.servicePrincipals.filter((s: any) => s.appId === appId);
  const spIds = new Set(sps.map((s: { id: string }) => s.id));
  return {
    applications: t.applications.filter((a: any) => a.appId === appId),
    servicePrincipals: sps,
    assignments: t.appRoleAssignments.filter((a: any) => spIds.has(a.principalId)),
    exchangeServicePrincipals: t.exchange.servicePrincipals.filter((s: any) => s.AppId === appId),
    mailboxPermissions: t.exchange.mailboxPermissions.filter((p: any) => spIds.has(p.trustee.id)),
  };
}

/** A user by mailbox address in a tenant dump (undefined when there is none). */
export function userByMail(t: any, address: string): any {
  return t.users.find((x: any) => x.mail === address);
}

/** A user's id by mailbox address in a tenant dump. */
export function userId(t: any, address: string): string {
  const u = userByMail(t, address);
  if (!u) throw new Error(`no user ${address}`);
  return u.id as string;
}

/** The app registration of an appId in a tenant dump (undefined when there is none). */
export function findApp(t: any, appId: string): any {
  return t.applications.find((a: any) => a.appId === appId);
}

/** The service principal of an appId in a tenant dump (undefined when there is none). */
export function spOf(t: any, appId: string): any {
  return t.servicePrincipals.find((s: any) => s.appId === appId);
}

/** The applications of a tenant dump other than the operator's own. */
export function appsBesidesOperator(emu: TestEmulator, t: any): any[] {
  return t.applications.filter((a: any) => a.appId !== emu.store.world.operator.clientId);
}

/** A fresh temporary directory for a scenario's files (sinks, PEMs). */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A sink (or any JSON) file, parsed. */
export function readJson(file: string): any {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Asserts exit 0 and a passed proof; returns the JSON result. */
export function expectPassed(r: CliResult): Record<string, any> {
  expect(r.code, r.stderr).toBe(0);
  const out = r.json<Record<string, any>>();
  expect(out.verification.status).toBe('passed');
  return out;
}

/** The write requests of the emulator's log, but SMTP's (the proof's sign-in). */
export async function writesBesidesSmtp(emu: TestEmulator): Promise<unknown[]> {
  return (await emu.control.log()).filter((e) => e.write && e.service !== 'smtp');
}

/**
 * Runs `args` again with a cleared request log and asserts the rerun exits 0, reports no change and sent no write
 * (SMTP's proof aside); returns the JSON result.
 */
export async function expectNoopRerun(
  emu: TestEmulator,
  runs: Runs,
  args: string[],
  o: CliOptions = {},
): Promise<Record<string, any>> {
  await emu.control.clearLog();
  const again = await runs.run(args, o);
  expect(again.code, again.stderr).toBe(0);
  const out = again.json<Record<string, any>>();
  expect(out.changed).toBe(false);
  expect(await writesBesidesSmtp(emu)).toEqual([]);
  return out;
}
