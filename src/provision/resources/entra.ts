/**
 * The Entra resources: Exchange Online's role id (looked up), the application, its credential, the service
 * principal in the mailbox tenant, and the SMTP.SendAsApp consent.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OperatorError } from '../errors.js';
import {
  EXCHANGE_ONLINE_APP_ID,
  GraphRequestError,
  ServicePrincipalNotAllowedError,
  abortableSleep,
  addSecret,
  addCertificate,
  certificateThumbprint,
  splitKeyAndCertificate,
  makeSelfSignedCertificate,
  removeCertificates,
  adminConsentUrl,
  credentialDisplayName,
  grantAppRole,
  isOurs,
  mergeResourceAccess,
  readAppRoleAssignments,
  readApplicationByAppId,
  readApplicationByUniqueName,
  readExchangeOnlinePrincipal,
  readServicePrincipal,
  removeSecret,
  updateApplication,
  upsertApplication,
  createServicePrincipal,
  type Application,
  type RequiredResourceAccess,
  type ExchangeOnlinePrincipal,
  type ServicePrincipal,
} from '../../entra/index.js';
import type { TenantContext } from '../context.js';
import type { Change, Resource, RunState } from '../resource.js';
import { WaitingError } from '../runner.js';

export const KEYS = {
  exchangeOnline: 'entra.exchangeOnline',
  application: 'entra.application',
  credential: 'entra.credential',
  servicePrincipal: 'entra.servicePrincipal',
  consent: 'entra.consent',
} as const;

/** A secret closer than this to its end is replaced by a new one (the old one stays until it expires). */
const RENEW_BEFORE_MS = 14 * 86_400_000;

/** The app as this run sees it: ours (by uniqueName), adopted by appId, or an external (ISV) app. */
export interface AppState {
  appId: string;
  app?: Application;
  /** Created by this run (201): nothing can depend on it yet, so dependents need not read. */
  createdNow?: boolean;
  /** Adopted app not registered in the home tenant (an ISV's): nothing to manage but its consent. */
  external: boolean;
}

/**
 * The updates an existing app registration needs: its display name (unless undefined: an adopted app keeps its
 * own), the multitenant audience when `multi`, and the permissions of `access` it lacks (described by `permission`).
 * Shared by the app-only and the delegated application resources.
 */
export function applicationChanges(
  app: Application,
  want: {
    displayName: string | undefined;
    multi: boolean;
    access: RequiredResourceAccess[];
    permission: { what: string; to: string };
  },
): Change[] {
  const changes: Change[] = [];
  if (want.displayName !== undefined && app.displayName !== want.displayName)
    changes.push({ action: 'update', what: 'displayName', from: app.displayName, to: want.displayName });
  if (want.multi && app.signInAudience === 'AzureADMyOrg')
    changes.push({ action: 'update', what: 'signInAudience', from: app.signInAudience, to: 'AzureADMultipleOrgs' });
  if (mergeResourceAccess(app.requiredResourceAccess, want.access))
    changes.push({ action: 'update', ...want.permission });
  return changes;
}

export function applicationResource(ctx: TenantContext): Resource<AppState> {
  const o = ctx.options;
  const multi = o.multiTenant || ctx.homeTenantId !== ctx.mailboxTenantId;
  const audience = multi ? 'AzureADMultipleOrgs' : 'AzureADMyOrg';
  const wanted = (run: RunState) => {
    if (o.mailboxAccess === 'rbac') return [];
    const exo = run.get<ExchangeOnlinePrincipal>(KEYS.exchangeOnline)!;
    if (!exo) throw new Error('Office 365 Exchange Online was not read');
    return [
      {
        resourceAppId: EXCHANGE_ONLINE_APP_ID,
        resourceAccess: [{ id: exo.smtpSendAsAppRoleId, type: 'Role' as const }],
      },
    ];
  };
  return {
    key: KEYS.application,
    title: o.appId ? `Application ${o.appId}` : `Application "${ctx.names.displayName}" (${ctx.names.uniqueName})`,
    dependsOn: [],
    async read(run) {
      // Exchange Online's role id (needed to diff the permissions) is read in parallel with the app itself and
      // published under its own key for the consent resource.
      const exoRead = readExchangeOnlinePrincipal(ctx.mailboxGraph).then((exo) => {
        run.results.set(KEYS.exchangeOnline, exo);
        return exo;
      });
      if (o.appId) {
        const [app] = await Promise.all([readApplicationByAppId(ctx.homeGraph, o.appId), exoRead]);
        return { appId: o.appId, app, external: !app };
      }
      const [app] = await Promise.all([readApplicationByUniqueName(ctx.homeGraph, ctx.names.uniqueName), exoRead]);
      return app ? { appId: app.appId, app, external: false } : undefined;
    },
    diff(current, run) {
      if (current?.external) return [];
      if (!current?.app)
        return [
          {
            action: 'create',
            what: 'app registration',
            to: { displayName: ctx.names.displayName, signInAudience: audience },
          },
        ];
      return applicationChanges(current.app, {
        displayName: o.appId ? undefined : ctx.names.displayName,
        multi,
        access: wanted(run),
        permission: { what: 'API permission SMTP.SendAsApp (Office 365 Exchange Online)', to: 'Role' },
      });
    },
    async apply(run, changes, current) {
      if (!current?.app) {
        const app = await upsertApplication(ctx.homeGraph, {
          uniqueName: ctx.names.uniqueName,
          displayName: ctx.names.displayName,
          signInAudience: audience,
          requiredResourceAccess: wanted(run),
        });
        // A 204 (it existed after all: a crashed earlier run) may still lack something: bring it up to date.
        const rest = this.diff({ appId: app.appId, app, external: false }, run);
        if (rest.length > 0) return this.apply(run, rest, { appId: app.appId, app, external: false });
        return { appId: app.appId, app, external: false, createdNow: app.createdNow };
      }
      const patch: Parameters<typeof updateApplication>[2] = {};
      for (const c of changes) {
        if (c.what === 'displayName') patch.displayName = ctx.names.displayName;
        else if (c.what === 'signInAudience') patch.signInAudience = 'AzureADMultipleOrgs';
        else patch.requiredResourceAccess = mergeResourceAccess(current.app.requiredResourceAccess, wanted(run));
      }
      await updateApplication(ctx.homeGraph, current.app.id, patch);
      return { ...current, app: { ...current.app, ...patch } as Application };
    },
  };
}

export interface CredentialState {
  type: 'secret' | 'certificate';
  keyId?: string;
  expires?: string;
  /** Where the usable credential is held. */
  sink: string;
  /** Our credential exists in Entra but this run cannot see its value (no sink file holds it). */
  heldElsewhere: boolean;
  /** Our credentials in Entra that a crashed run left behind (named by the sink's pending marker): removed. */
  orphanKeyIds: string[];
}

interface EntraCredential {
  keyId: string;
  displayName: string | null;
  endDateTime: string | null;
}

/** customKeyIdentifier (Edm.Binary) shows the SHA-1 thumbprint as hex or as base64 of its bytes. */
function sameThumbprint(customKeyIdentifier: string | null | undefined, thumbprintHex: string): boolean {
  if (!customKeyIdentifier) return false;
  if (customKeyIdentifier.toUpperCase() === thumbprintHex) return true;
  return Buffer.from(customKeyIdentifier, 'base64').toString('hex').toUpperCase() === thumbprintHex;
}

function loadCertificateFile(file: string): { certificatePem: string; privateKeyPem: string } {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch {
    throw new OperatorError(
      `cannot read --certificate-file ${file}`,
      'give a PEM file holding the private key and the certificate',
    );
  }
  const parts = splitKeyAndCertificate(pem);
  if (!parts)
    throw new OperatorError(
      `--certificate-file ${file} lacks the certificate or its private key`,
      'give one PEM file with both',
    );
  return parts;
}

/**
 * TEST-ONLY crash point. With SENDASAPP_TEST_CRASH_AFTER=<step> (addPassword | addCertificate) the process kills
 * itself (SIGKILL, as a crash or `kill -9` would) right after that step, before the credential reaches the sink:
 * the one window no stderr line separates, used by test/e2e/crash-safety.test.ts to prove that the next run
 * removes the orphan named by the sink's pending marker. Never set it outside tests.
 */
function crashPointForTests(step: 'addPassword' | 'addCertificate'): void {
  if (process.env.SENDASAPP_TEST_CRASH_AFTER !== step) return;
  process.kill(process.pid, 'SIGKILL');
  process.exit(137); // not reached: SIGKILL cannot be caught
}

export function credentialResource(ctx: TenantContext): Resource<CredentialState> {
  const o = ctx.options;
  const kind = o.credential;
  const sinkName =
    ctx.sink?.file ?? (o.certificateFile ? o.certificateFile : o.showSecret ? 'stdout (--show-secret)' : 'none');
  const credentialsOf = (app: Application): EntraCredential[] =>
    kind === 'secret' ? app.passwordCredentials : app.keyCredentials;
  return {
    key: KEYS.credential,
    title: `Client ${kind === 'secret' ? 'secret' : 'certificate'} (to ${sinkName})`,
    dependsOn: [KEYS.application],
    async read(run) {
      const state = run.get<AppState>(KEYS.application);
      if (!state?.app) return undefined;
      const all = credentialsOf(state.app);
      const file = ctx.sink?.read();
      const pending = file?.pending;
      const orphanKeyIds = pending ? all.filter((p) => p.displayName === pending.displayName).map((p) => p.keyId) : [];
      const heldCredential = file?.credential?.type === kind ? file.credential : undefined;
      const now = Date.now();
      // Renew 14 days before the end, or at the last third of a shorter lifetime (else every run would renew).
      const renewBefore = Math.min(RENEW_BEFORE_MS, o.secretLifetime.ms / 3);
      const live = (c: EntraCredential): boolean => !!c.endDateTime && Date.parse(c.endDateTime) - now > renewBefore;
      // --certificate-file is the truth: the key in Entra must be that certificate (matched by thumbprint).
      const fileThumbprint = o.certificateFile
        ? certificateThumbprint(loadCertificateFile(o.certificateFile).certificatePem)
        : undefined;
      const held = fileThumbprint
        ? all.find(
            (p) =>
              sameThumbprint((p as { customKeyIdentifier?: string | null }).customKeyIdentifier, fileThumbprint) &&
              live(p),
          )
        : all.find(
            (p) =>
              heldCredential !== undefined &&
              // by keyId, or by our unique display name (a keyId recorded during replication lag may be a thumbprint)
              (p.keyId === heldCredential.keyId ||
                (isOurs(p.displayName) && p.displayName === heldCredential.displayName)) &&
              live(p),
          );
      if (held)
        return {
          type: kind,
          keyId: held.keyId,
          expires: held.endDateTime!,
          sink: sinkName,
          heldElsewhere: false,
          orphanKeyIds,
        };
      if (!ctx.sink && !fileThumbprint) {
        const newest = all
          .filter((p) => isOurs(p.displayName) && live(p))
          .sort((a, b) => Date.parse(b.endDateTime!) - Date.parse(a.endDateTime!))[0];
        if (newest)
          return {
            type: kind,
            keyId: newest.keyId,
            expires: newest.endDateTime!,
            sink: sinkName,
            heldElsewhere: !o.certificateFile,
            orphanKeyIds,
          };
      }
      return orphanKeyIds.length > 0 ? { type: kind, sink: sinkName, heldElsewhere: false, orphanKeyIds } : undefined;
    },
    diff(current, run) {
      const app = run.get<AppState>(KEYS.application);
      if (app?.external) return [];
      const changes: Change[] = [];
      if (!current?.keyId)
        changes.push({
          action: 'create',
          what:
            kind === 'secret'
              ? `client secret, lifetime ${o.secretLifetime.text}`
              : `certificate${o.certificateFile ? ` from ${o.certificateFile}` : `, self-signed, lifetime ${o.secretLifetime.text}`}`,
        });
      for (const k of current?.orphanKeyIds ?? [])
        changes.push({ action: 'delete', what: `${kind} ${k} left by an interrupted run` });
      return changes;
    },
    async apply(run, changes, current) {
      let app = run.get<AppState>(KEYS.application)!.app!;
      let result: CredentialState = current ?? { type: kind, sink: sinkName, heldElsewhere: false, orphanKeyIds: [] };
      const orphans = result.orphanKeyIds;
      if (orphans.length > 0) {
        if (kind === 'secret') for (const keyId of orphans) await removeSecret(ctx.homeGraph, app.id, keyId);
        else await removeCertificates(ctx.homeGraph, app, orphans);
        // The upload below sends back the keys it is given (the PATCH replaces the set): not the removed ones.
        app = {
          ...app,
          keyCredentials: app.keyCredentials.filter((k) => !orphans.includes(k.keyId)),
          passwordCredentials: app.passwordCredentials.filter((p) => !orphans.includes(p.keyId)),
        };
      }
      if (changes.some((c) => c.action === 'create')) {
        const displayName = credentialDisplayName(randomBytes(4).toString('hex'));
        const base = { tenantId: ctx.mailboxTenantId, clientId: app.appId };
        if (kind === 'secret') {
          if (!ctx.sink && !o.showSecret)
            throw new OperatorError(
              'a new client secret is shown only once and there is nowhere to put it',
              'give --secret-out FILE (or --show-secret with --output json)',
            );
          ctx.sink?.markPending(base, displayName);
          const secret = await addSecret(
            ctx.homeGraph,
            app.id,
            displayName,
            new Date(Date.now() + o.secretLifetime.ms),
          );
          crashPointForTests('addPassword');
          ctx.sink?.store(base, {
            type: 'secret',
            keyId: secret.keyId,
            secret: secret.secretText,
            expires: secret.endDateTime,
            displayName,
          });
          ctx.newSecret = { keyId: secret.keyId, value: secret.secretText, expires: secret.endDateTime };
          result = {
            type: 'secret',
            keyId: secret.keyId,
            expires: secret.endDateTime,
            sink: sinkName,
            heldElsewhere: false,
            orphanKeyIds: [],
          };
        } else {
          if (!ctx.sink && !o.certificateFile)
            throw new OperatorError(
              'a new private key must be kept somewhere',
              'give --secret-out FILE (the key and certificate are written there), or --certificate-file with your own',
            );
          const material = o.certificateFile
            ? loadCertificateFile(o.certificateFile)
            : await makeSelfSignedCertificate(ctx.names.displayName, o.secretLifetime.ms);
          ctx.sink?.markPending(base, displayName);
          const uploaded = await addCertificate(ctx.homeGraph, app, material.certificatePem, displayName);
          crashPointForTests('addCertificate');
          // By appId: an adopted app (--app-id) has no uniqueName of ours.
          const fresh = await readApplicationByAppId(ctx.homeGraph, app.appId);
          const key =
            fresh?.keyCredentials.find((k) => k.displayName === displayName) ??
            fresh?.keyCredentials.find((k) => sameThumbprint(k.customKeyIdentifier, uploaded.thumbprint));
          const keyId = key?.keyId ?? uploaded.thumbprint;
          ctx.sink?.store(base, {
            type: 'certificate',
            keyId,
            thumbprint: uploaded.thumbprint,
            certificatePem: material.certificatePem,
            privateKeyPem: material.privateKeyPem,
            expires: uploaded.endDateTime,
            displayName,
          });
          ctx.newCertificate = { pem: `${material.privateKeyPem}${material.certificatePem}` };
          result = {
            type: 'certificate',
            keyId,
            expires: uploaded.endDateTime,
            sink: sinkName,
            heldElsewhere: false,
            orphanKeyIds: [],
          };
        }
      }
      return { ...result, orphanKeyIds: [] };
    },
  };
}

export function servicePrincipalResource(ctx: TenantContext): Resource<ServicePrincipal> {
  return {
    key: KEYS.servicePrincipal,
    title: `Service principal in ${ctx.options.tenant}`,
    dependsOn: [KEYS.application],
    async read(run) {
      const app = run.get<AppState>(KEYS.application);
      // An app this run just created (201) has no service principal anywhere yet.
      if (!app || app.createdNow) return undefined;
      return readServicePrincipal(ctx.mailboxGraph, app.appId);
    },
    diff: (current) => (current ? [] : [{ action: 'create', what: 'enterprise application (service principal)' }]),
    async apply(run) {
      const app = run.get<AppState>(KEYS.application)!;
      try {
        // An external (ISV) multitenant app is installed the same way when the operator may create service
        // principals (Application.ReadWrite.All or an application administrator); otherwise by consent below.
        return await createServicePrincipal(ctx.mailboxGraph, app.appId, !app.external);
      } catch (err) {
        if (
          !(err instanceof ServicePrincipalNotAllowedError) &&
          !(err instanceof GraphRequestError && err.status === 403)
        )
          throw err;
      }
      const url = adminConsentUrl(ctx.profile.consentHost, ctx.mailboxTenantId, app.appId);
      ctx.progress(
        `An administrator of ${ctx.options.tenant} must consent to the app. Open this URL as that administrator:\n  ${url}`,
      );
      const deadline = Date.now() + ctx.options.wait.ms;
      let delay = 2000;
      while (Date.now() < deadline) {
        await abortableSleep(Math.min(delay, Math.max(0, deadline - Date.now())), ctx.signal);
        const sp = await readServicePrincipal(ctx.mailboxGraph, app.appId);
        if (sp) return sp;
        delay = Math.min(delay * 2, 15_000);
      }
      throw new WaitingError(
        `waiting for admin consent in ${ctx.options.tenant}: open ${url} as its administrator, then rerun`,
      );
    },
  };
}

export interface ConsentState {
  granted: boolean;
}

export function consentResource(ctx: TenantContext): Resource<ConsentState> {
  return {
    key: KEYS.consent,
    title: `Admin consent: SMTP.SendAsApp in ${ctx.options.tenant}`,
    dependsOn: [KEYS.servicePrincipal],
    async read(run) {
      const sp = run.get<ServicePrincipal & { createdNow?: boolean }>(KEYS.servicePrincipal);
      const exo = run.get<ExchangeOnlinePrincipal>(KEYS.exchangeOnline)!;
      // A service principal this run just created (201) holds no assignment yet.
      if (!sp || sp.createdNow) return undefined;
      const assignments = await readAppRoleAssignments(ctx.mailboxGraph, sp.id);
      const granted = assignments.some((a) => a.resourceId === exo.id && a.appRoleId === exo.smtpSendAsAppRoleId);
      return granted ? { granted } : undefined;
    },
    diff: (current) => (current?.granted ? [] : [{ action: 'create', what: 'app role assignment SMTP.SendAsApp' }]),
    async apply(run) {
      const sp = run.get<ServicePrincipal>(KEYS.servicePrincipal)!;
      const exo = run.get<ExchangeOnlinePrincipal>(KEYS.exchangeOnline)!;
      await grantAppRole(ctx.mailboxGraph, {
        principalId: sp.id,
        resourceId: exo.id,
        appRoleId: exo.smtpSendAsAppRoleId,
      });
      return { granted: true };
    },
  };
}
