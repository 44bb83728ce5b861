/**
 * The Entra nodes: the application, its credential, the service principal in the mailbox tenant, the
 * SMTP.SendAsApp consent and the Web redirect URIs. Each reads, diffs into typed changes, and applies them.
 */
import { randomBytes } from 'node:crypto';
import { poll, PollTimeoutError } from '../../poll/index.js';
import {
  EXCHANGE_ONLINE_APP_ID,
  GraphRequestError,
  ServicePrincipalNotAllowedError,
  addCertificate,
  addSecret,
  adminConsentUrl,
  certificateThumbprint,
  createServicePrincipal,
  credentialDisplayName,
  grantAppRole,
  isOurs,
  makeSelfSignedCertificate,
  mergeResourceAccess,
  readAppRoleAssignments,
  readApplicationByAppId,
  readApplicationByUniqueName,
  readServicePrincipal,
  removeCertificates,
  removeSecret,
  updateApplication,
  upsertApplication,
  type Application,
  type ExchangeOnlinePrincipal,
  type RequiredResourceAccess,
  type ServicePrincipal,
} from '../../entra/index.js';
import type { SinkInspection } from '../../handoff/index.js';
import type { TenantContext } from '../context.js';
import { gracePlan, rotateWindow, type Rotated } from '../rotation.js';
import {
  CheckFailure,
  Sensitive,
  WaitingError,
  type Inputs,
  type ManagedNode,
  type ManagedRef,
  type Ref,
  type Resolved,
} from '../model.js';
import type { CertificateMaterial, LifetimePolicy } from './facts.js';

export const ENTRA_KEYS = {
  application: 'entra.application',
  credential: 'entra.credential',
  servicePrincipal: 'entra.servicePrincipal',
  consent: 'entra.consent',
  redirectUris: 'entra.redirectUris',
} as const;

/** The app as this run sees it: ours (by uniqueName), adopted by appId, or an external (ISV) app. */
export interface AppState {
  appId: string;
  app?: Application;
  /** Adopted app not registered in the home tenant (an ISV's): nothing to manage but its consent. */
  external: boolean;
  /** Found under sendasapp 0.1's key (kept, never renamed). */
  legacyKey?: boolean;
  /** The create found it there already (a run killed earlier): not a new object. */
  existed?: boolean;
}

export type AppChange =
  | { op: 'create'; displayName: string; signInAudience: string; permission?: string }
  | { op: 'setSignInAudience'; from: string; to: 'AzureADMultipleOrgs' }
  | { op: 'addPermission'; permission: string };

export interface AppWants {
  /** The permissions the app must hold (merged into what it has, never replacing). */
  access: RequiredResourceAccess[];
  /** Their name for people. */
  permission?: string;
}

export interface ApplicationNodeSpec<In extends Inputs> {
  inputs: In;
  title: string;
  wants: (inputs: Resolved<In>) => AppWants;
}

/**
 * Where an admin consent returns to: the first --redirect-uri, else Microsoft's blank "nativeclient" page of the
 * cloud. The app we register carries it as a Web redirect URI (Entra refuses consent to an app without one:
 * AADSTS500113). A vendor's app needs the vendor's registered reply URL, given with --redirect-uri.
 */
export function consentRedirectUri(ctx: TenantContext): string {
  return ctx.options.redirectUris?.[0] ?? `${ctx.profile.consentHost}/common/oauth2/nativeclient`;
}

/** The Web redirect URIs an app of ours must have: those given, else the consent reply URL. */
export function wantedRedirectUris(ctx: TenantContext): string[] {
  const given = ctx.options.redirectUris ?? [];
  if (given.length > 0) return [...given];
  return ctx.options.appId ? [] : [consentRedirectUri(ctx)];
}

function audienceOf(ctx: TenantContext): 'AzureADMyOrg' | 'AzureADMultipleOrgs' {
  return ctx.options.multiTenant || ctx.homeTenantId !== ctx.mailboxTenantId ? 'AzureADMultipleOrgs' : 'AzureADMyOrg';
}

/** Reads our app by its key; adopts one made under the 0.1 key with exactly this display name. */
async function readOurApp(ctx: TenantContext): Promise<AppState | undefined> {
  const n = ctx.names;
  const app = await readApplicationByUniqueName(ctx.homeGraph, n.uniqueName);
  if (app) {
    if ((app.displayName ?? '') !== n.displayName)
      throw new CheckFailure(
        'input',
        `the app with key ${n.uniqueName} is named "${app.displayName ?? ''}", not "${n.displayName}"`,
        `rerun with --app-name "${app.displayName ?? ''}" to manage it, or give it back its name "${n.displayName}" in the Entra portal`,
        '--app-name',
      );
    return { appId: app.appId, app, external: false };
  }
  const legacy = await readApplicationByUniqueName(ctx.homeGraph, n.legacyUniqueName);
  // Under the 0.1 key, names that differ only outside a–z0–9 collided: only an exact name is this app.
  if (legacy && legacy.displayName === n.displayName)
    return { appId: legacy.appId, app: legacy, external: false, legacyKey: true };
  return undefined;
}

/** The app registration (app-only SMTP.SendAsApp, or delegated SMTP.Send: `spec.wants` decides). */
export function applicationNode<In extends Inputs>(
  ctx: TenantContext,
  spec: ApplicationNodeSpec<In>,
): ManagedNode<AppState, In, AppChange> {
  return {
    kind: 'managed',
    key: ENTRA_KEYS.application,
    title: spec.title,
    inputs: spec.inputs,
    async read(ctx) {
      const o = ctx.options;
      if (o.appId) {
        const app = await readApplicationByAppId(ctx.homeGraph, o.appId);
        return { appId: o.appId, app, external: !app };
      }
      return readOurApp(ctx);
    },
    diff(current, inputs) {
      const wants = spec.wants(inputs);
      if (current?.external) return [];
      if (!current?.app)
        return [
          {
            op: 'create',
            displayName: ctx.names.displayName,
            signInAudience: audienceOf(ctx),
            ...(wants.permission ? { permission: wants.permission } : {}),
          },
        ];
      const changes: AppChange[] = [];
      if (audienceOf(ctx) === 'AzureADMultipleOrgs' && current.app.signInAudience === 'AzureADMyOrg')
        changes.push({ op: 'setSignInAudience', from: current.app.signInAudience, to: 'AzureADMultipleOrgs' });
      if (wants.access.length > 0 && mergeResourceAccess(current.app.requiredResourceAccess, wants.access))
        changes.push({ op: 'addPermission', permission: wants.permission ?? 'API permissions' });
      return changes;
    },
    async apply(ctx, changes, current, inputs) {
      const wants = spec.wants(inputs);
      if (changes.some((c) => c.op === 'create') || !current?.app) {
        const app = await upsertApplication(ctx.homeGraph, {
          uniqueName: ctx.names.uniqueName,
          displayName: ctx.names.displayName,
          signInAudience: audienceOf(ctx),
          requiredResourceAccess: wants.access,
          webRedirectUris: wantedRedirectUris(ctx),
        });
        const state: AppState = { appId: app.appId, app, external: false, existed: !app.createdNow };
        // Found after all (a run killed before it knew): bring it up to date.
        const rest = this.diff(state, inputs);
        return rest.length > 0 ? { ...(await this.apply(ctx, rest, state, inputs)), existed: true } : state;
      }
      const patch: Parameters<typeof updateApplication>[2] = {};
      for (const c of changes) {
        if (c.op === 'setSignInAudience') patch.signInAudience = c.to;
        if (c.op === 'addPermission')
          patch.requiredResourceAccess = mergeResourceAccess(current.app.requiredResourceAccess, wants.access);
      }
      await updateApplication(ctx.homeGraph, current.app.id, patch);
      return { ...current, app: { ...current.app, ...patch } as Application };
    },
    describe(c) {
      if (c.op === 'create')
        return `register the app "${c.displayName}" (${c.signInAudience})${c.permission ? ` with ${c.permission}` : ''}`;
      if (c.op === 'setSignInAudience') return `sign-in audience ${c.from} → ${c.to}`;
      return `add ${c.permission}`;
    },
    actionOf: (c) => (c.op === 'create' ? 'create' : 'update'),
  };
}

/** Exchange Online's SMTP.SendAsApp application permission, for the app-only app registration. */
export function smtpSendAsAppAccess(exo: ExchangeOnlinePrincipal | undefined): AppWants {
  if (!exo) return { access: [] };
  return {
    access: [
      { resourceAppId: EXCHANGE_ONLINE_APP_ID, resourceAccess: [{ id: exo.smtpSendAsAppRoleId, type: 'Role' }] },
    ],
    permission: 'the API permission SMTP.SendAsApp (Office 365 Exchange Online)',
  };
}

/** What the credential node holds after the run. The value of a new one is Sensitive (never printed). */
export interface CredentialState {
  type: 'secret' | 'certificate';
  keyId?: string;
  expires?: string;
  /** Where the usable credential is held, for people: the sink's path, the certificate file, stdout. */
  sink: string;
  /** Our credential exists in Entra but this run cannot see its value (no sink file holds it). */
  heldElsewhere: boolean;
  /** Our credentials in Entra that a killed run left behind (named by the sink's pending marker). */
  orphanKeyIds: string[];
  /** Ours, held by the sink, replaced on request (--new-secret): removed once the new one is stored. */
  retireKeyIds: string[];
  /** Ours (by display name) that have ended: pruned. The one the sink holds is never among them. */
  expiredKeyIds?: string[];
  /** Replaced by a rotation, kept in the sink's `previous`, whose grace has ended (`retireAfter`): removed now. */
  dueKeyIds?: Array<{ keyId: string; after: string }>;
  /** The sink's credential this run replaces by a rotation (rotation.ts): it stays valid until the proof. */
  rotates?: { keyId: string; expires: string; why: string };
  /** A credential made by this run. */
  created?: { secret?: Sensitive<string>; pem?: Sensitive<string> };
}

/** `replaces`: the keyId of the credential a rotation replaces, and why. */
export type CredentialChange =
  | { op: 'addSecret'; lifetime: string; replaces?: string; why?: string }
  | { op: 'addCertificate'; source: string; lifetime?: string; replaces?: string; why?: string }
  | { op: 'removeOrphan'; keyId: string }
  | { op: 'removeExpired'; keyId: string; ended: string }
  | { op: 'retire'; keyId: string }
  | { op: 'retireReplaced'; keyId: string; after: string };

interface EntraCredential {
  keyId: string;
  displayName: string | null;
  endDateTime: string | null;
  customKeyIdentifier?: string | null;
}

/** customKeyIdentifier (Edm.Binary) shows the SHA-1 thumbprint as hex or as base64 of its bytes. */
function sameThumbprint(customKeyIdentifier: string | null | undefined, thumbprintHex: string): boolean {
  if (!customKeyIdentifier) return false;
  if (customKeyIdentifier.toUpperCase() === thumbprintHex) return true;
  return Buffer.from(customKeyIdentifier, 'base64').toString('hex').toUpperCase() === thumbprintHex;
}

type CredentialInputs = {
  app: ManagedRef<AppState>;
  sink: Ref<SinkInspection | undefined>;
  certificate: Ref<CertificateMaterial | undefined>;
  lifetime: Ref<{ days: number; policy: LifetimePolicy }>;
};

/** The rotation a run of this credential node makes, for the rotation's second half (after the proof). */
export function rotatedCredential(state: CredentialState | undefined): Rotated | undefined {
  if (!state?.rotates || !state.created) return undefined;
  return { type: state.type, replaced: state.rotates, keyId: state.keyId, expires: state.expires };
}

export function credentialNode(
  ctx: TenantContext,
  inputs: CredentialInputs,
): ManagedNode<CredentialState, CredentialInputs, CredentialChange> {
  const o = ctx.options;
  const kind = o.credential;
  const sinkName =
    ctx.sink?.file ?? (o.certificateFile ? o.certificateFile : o.showSecret ? 'stdout (--show-secret)' : 'no file');
  const credentialsOf = (app: Application): EntraCredential[] =>
    kind === 'secret' ? app.passwordCredentials : app.keyCredentials;
  const empty = (): CredentialState => ({
    type: kind,
    sink: sinkName,
    heldElsewhere: false,
    orphanKeyIds: [],
    retireKeyIds: [],
  });
  const window = rotateWindow(o);
  const nothingToRotate = (why: string): CheckFailure =>
    new CheckFailure(
      'tenant',
      `nothing to rotate: ${why}`,
      'run `sendasapp apply` with the same options first (it makes the credential and writes it to --secret-out)',
      '--secret-out',
    );
  return {
    kind: 'managed',
    key: ENTRA_KEYS.credential,
    title: `Client ${kind === 'secret' ? 'secret' : 'certificate'} (${sinkName === 'no file' ? 'no --secret-out' : `kept in ${sinkName}`})`,
    inputs,
    async read(_ctx, { app: state, sink, certificate }) {
      if (!state?.app) return undefined;
      const all = credentialsOf(state.app);
      const heldBy = sink?.ok ? sink.held?.clientId : undefined;
      if (heldBy && heldBy.toLowerCase() !== state.appId.toLowerCase())
        throw new CheckFailure(
          'input',
          `--secret-out ${ctx.sink?.file} holds the credential of another app (${heldBy})`,
          'give this app its own --secret-out file',
          '--secret-out',
        );
      const file = ctx.sink?.read();
      const pending = file?.pending;
      const orphanKeyIds = pending ? all.filter((p) => p.displayName === pending.displayName).map((p) => p.keyId) : [];
      const heldCredential = file?.credential?.type === kind ? file.credential : undefined;
      const now = Date.now();
      const notEnded = (c: EntraCredential): boolean => !!c.endDateTime && Date.parse(c.endDateTime) > now;
      const inWindow = (c: EntraCredential): boolean => Date.parse(c.endDateTime!) - now <= window.ms;
      // The sink's credential, by keyId or by our unique display name (a keyId recorded during replication lag
      // may be a thumbprint).
      const sinkHeld = all.find(
        (p) =>
          heldCredential !== undefined &&
          (p.keyId === heldCredential.keyId ||
            (isOurs(p.displayName) && p.displayName === heldCredential.displayName)) &&
          notEnded(p),
      );
      // Ended credentials of ours are pruned (Entra keeps them, listed, forever otherwise); never the sink's own.
      const expiredKeyIds = all
        .filter(
          (p) =>
            isOurs(p.displayName) &&
            !!p.endDateTime &&
            Date.parse(p.endDateTime) <= now &&
            p.keyId !== heldCredential?.keyId &&
            !orphanKeyIds.includes(p.keyId),
        )
        .map((p) => p.keyId);
      // Replaced by a rotation whose grace has ended: removed now (never the sink's current one).
      const dueKeyIds = (file?.previous ?? [])
        .filter(
          (p) =>
            p.type === kind &&
            p.retireAfter !== undefined &&
            Date.parse(p.retireAfter) <= now &&
            p.keyId !== heldCredential?.keyId &&
            all.some((c) => c.keyId.toLowerCase() === p.keyId.toLowerCase()) &&
            !expiredKeyIds.includes(p.keyId) &&
            !orphanKeyIds.includes(p.keyId),
        )
        .map((p) => ({ keyId: p.keyId, after: p.retireAfter! }));
      const base = { ...empty(), orphanKeyIds, expiredKeyIds, dueKeyIds };
      const rotation = (held: EntraCredential, why: string): CredentialState => ({
        ...base,
        rotates: { keyId: held.keyId, expires: held.endDateTime!, why },
      });
      if (certificate) {
        // --certificate-file: that file is the truth; it is rotated to by giving a new file.
        const fromFile = all.find((p) => sameThumbprint(p.customKeyIdentifier, certificate.thumbprint) && notEnded(p));
        if (fromFile && o.rotate)
          throw new CheckFailure(
            'input',
            `nothing to rotate: the certificate of --certificate-file ${o.certificateFile} is the app's already`,
            'give the new certificate (with its key) in --certificate-file, or leave --certificate-file out for a new self-signed one',
            '--certificate-file',
          );
        if (fromFile) return { ...base, keyId: fromFile.keyId, expires: fromFile.endDateTime! };
        if (sinkHeld) return rotation(sinkHeld, `a new --certificate-file ${o.certificateFile}`);
        return orphanKeyIds.length + expiredKeyIds.length + dueKeyIds.length > 0 ? base : undefined;
      }
      // --new-secret: a new one of the same kind replaces the sink's at once (the way out of a wrong secret there).
      if (sinkHeld && o.newSecret) return { ...base, retireKeyIds: [sinkHeld.keyId] };
      if (sinkHeld && o.rotate) return rotation(sinkHeld, 'sendasapp rotate');
      if (sinkHeld && inWindow(sinkHeld))
        return rotation(sinkHeld, `it ends ${sinkHeld.endDateTime!.slice(0, 10)}, within ${window.text}`);
      if (sinkHeld) return { ...base, keyId: sinkHeld.keyId, expires: sinkHeld.endDateTime! };
      if (!ctx.sink) {
        const newest = all
          .filter((p) => isOurs(p.displayName) && notEnded(p) && !inWindow(p))
          .sort((a, b) => Date.parse(b.endDateTime!) - Date.parse(a.endDateTime!))[0];
        if (newest) return { ...base, keyId: newest.keyId, expires: newest.endDateTime!, heldElsewhere: true };
      }
      return orphanKeyIds.length + expiredKeyIds.length + dueKeyIds.length > 0 ? base : undefined;
    },
    diff(current, { app, sink }) {
      if (app?.external) {
        if (o.rotate) throw nothingToRotate(`app ${app.appId} is a vendor's: its credential is the vendor's`);
        return [];
      }
      const changes: CredentialChange[] = [];
      if (o.rotate && !current?.rotates)
        throw nothingToRotate(
          !ctx.sink
            ? 'rotate needs --secret-out, the file that holds the credential (the new one is written there, the old one kept beside it)'
            : !app?.app
              ? `the app "${ctx.names.displayName}" is not registered yet`
              : `${ctx.sink.file} holds no ${kind} of this app that is still valid in Entra`,
        );
      if (!current?.keyId) {
        const nowhere =
          kind === 'secret'
            ? !ctx.sink && !o.showSecret
              ? [
                  'a new client secret is needed and is shown only once, but there is nowhere to keep it',
                  'give --secret-out FILE (or --show-secret with --output json)',
                ]
              : undefined
            : !ctx.sink && !o.certificateFile
              ? [
                  'a new private key is needed and must be kept somewhere',
                  'give --secret-out FILE (the key and certificate are written there), or --certificate-file with your own',
                ]
              : undefined;
        if (nowhere) throw new CheckFailure('input', nowhere[0]!, nowhere[1]!, '--secret-out');
        const heldBy = sink?.ok ? sink.held?.clientId : undefined;
        if (!app && heldBy)
          throw new CheckFailure(
            'input',
            `--secret-out ${ctx.sink?.file} holds the credential of another app (${heldBy})`,
            'give this app its own --secret-out file',
            '--secret-out',
          );
        const replaces = current?.rotates ? { replaces: current.rotates.keyId, why: current.rotates.why } : {};
        changes.push(
          kind === 'secret'
            ? { op: 'addSecret', lifetime: o.secretLifetime.text, ...replaces }
            : o.certificateFile
              ? { op: 'addCertificate', source: o.certificateFile, ...replaces }
              : { op: 'addCertificate', source: 'self-signed', lifetime: o.secretLifetime.text, ...replaces },
        );
      }
      for (const keyId of current?.orphanKeyIds ?? []) changes.push({ op: 'removeOrphan', keyId });
      for (const keyId of current?.expiredKeyIds ?? []) {
        const ended = credentialsOf(app!.app!).find((c) => c.keyId === keyId)?.endDateTime ?? '';
        changes.push({ op: 'removeExpired', keyId, ended });
      }
      for (const d of current?.dueKeyIds ?? []) changes.push({ op: 'retireReplaced', keyId: d.keyId, after: d.after });
      for (const keyId of current?.retireKeyIds ?? []) changes.push({ op: 'retire', keyId });
      return changes;
    },
    async apply(ctx, changes, current, { app: state, certificate }) {
      let app = state!.app!;
      let result: CredentialState = {
        ...(current ?? empty()),
        orphanKeyIds: [],
        retireKeyIds: [],
        expiredKeyIds: [],
        dueKeyIds: [],
      };
      const removals = changes
        .filter((c) => c.op === 'removeOrphan' || c.op === 'removeExpired' || c.op === 'retireReplaced')
        .map((c) => (c as { keyId: string }).keyId);
      if (removals.length > 0) {
        if (kind === 'secret') for (const keyId of removals) await removeSecret(ctx.homeGraph, app.id, keyId);
        else await removeCertificates(ctx.homeGraph, app, removals);
        // The upload below sends back the keys it is given (the PATCH replaces the set): not the removed ones.
        app = {
          ...app,
          keyCredentials: app.keyCredentials.filter((k) => !removals.includes(k.keyId)),
          passwordCredentials: app.passwordCredentials.filter((p) => !removals.includes(p.keyId)),
        };
        const retired = changes.filter((c) => c.op === 'retireReplaced').map((c) => c.keyId);
        if (retired.length > 0) await ctx.sink?.forget(retired);
      }
      const base = { tenantId: ctx.mailboxTenantId, clientId: app.appId };
      const displayName = credentialDisplayName(randomBytes(4).toString('hex'));
      if (changes.some((c) => c.op === 'addSecret')) {
        await ctx.sink?.markPending(base, displayName);
        const secret = await addSecret(ctx.homeGraph, app.id, displayName, new Date(Date.now() + o.secretLifetime.ms));
        await ctx.hooks.afterWrite?.('addPassword');
        await ctx.sink?.store(
          base,
          { type: 'secret', keyId: secret.keyId, secret: secret.secretText, expires: secret.endDateTime, displayName },
          { retired: current?.retireKeyIds },
        );
        result = {
          ...result,
          keyId: secret.keyId,
          expires: secret.endDateTime,
          heldElsewhere: false,
          created: { secret: new Sensitive(secret.secretText) },
        };
      }
      if (changes.some((c) => c.op === 'addCertificate')) {
        const material = certificate
          ? { certificatePem: certificate.certificatePem, privateKeyPem: certificate.privateKeyPem.reveal() }
          : await makeSelfSignedCertificate(ctx.names.displayName, o.secretLifetime.ms);
        await ctx.sink?.markPending(base, displayName);
        const uploaded = await addCertificate(ctx.homeGraph, app, material.certificatePem, displayName);
        await ctx.hooks.afterWrite?.('addCertificate');
        // By appId: an adopted app (--app-id) has no uniqueName of ours.
        const fresh = await readApplicationByAppId(ctx.homeGraph, app.appId);
        const key =
          fresh?.keyCredentials.find((k) => k.displayName === displayName) ??
          fresh?.keyCredentials.find((k) => sameThumbprint(k.customKeyIdentifier, uploaded.thumbprint));
        const keyId = key?.keyId ?? uploaded.thumbprint;
        await ctx.sink?.store(
          base,
          {
            type: 'certificate',
            keyId,
            thumbprint: uploaded.thumbprint ?? certificateThumbprint(material.certificatePem),
            certificatePem: material.certificatePem,
            privateKeyPem: material.privateKeyPem,
            expires: uploaded.endDateTime,
            displayName,
          },
          { retired: current?.retireKeyIds },
        );
        if (fresh) app = fresh;
        result = {
          ...result,
          keyId,
          expires: uploaded.endDateTime,
          heldElsewhere: false,
          created: { pem: new Sensitive(`${material.privateKeyPem}${material.certificatePem}`) },
        };
      }
      // The replaced secret leaves Entra only once its successor is in the sink.
      const retire = changes.filter((c) => c.op === 'retire').map((c) => (c as { keyId: string }).keyId);
      if (retire.length > 0) {
        if (kind === 'secret') for (const keyId of retire) await removeSecret(ctx.homeGraph, app.id, keyId);
        else await removeCertificates(ctx.homeGraph, app, retire);
      }
      return result;
    },
    describe(c) {
      const rotating =
        'replaces' in c && c.replaces
          ? `, replacing ${kind} ${c.replaces} (${c.why}); the old one stays valid until the new one passes the proof, then leaves Entra ${gracePlan(o).text}`
          : '';
      switch (c.op) {
        case 'addSecret':
          return `add a client secret, lifetime ${c.lifetime}, written to ${sinkName}${rotating}`;
        case 'addCertificate':
          return c.source === 'self-signed'
            ? `add a self-signed certificate, lifetime ${c.lifetime}, key written to ${sinkName}${rotating}`
            : `add the certificate of ${c.source}${rotating}`;
        case 'removeExpired':
          return `remove ${kind} ${c.keyId}, ended ${c.ended.slice(0, 10)} (made by sendasapp)`;
        case 'removeOrphan':
          return `remove ${kind} ${c.keyId}, left behind by an interrupted run`;
        case 'retire':
          return `remove the replaced ${kind} ${c.keyId} once the new one is stored (--new-secret)`;
        case 'retireReplaced':
          return `remove the replaced ${kind} ${c.keyId}: its rotation's grace ended ${c.after}`;
      }
    },
    actionOf: (c) =>
      c.op === 'removeOrphan' || c.op === 'removeExpired' || c.op === 'retire' || c.op === 'retireReplaced'
        ? 'delete'
        : 'create',
    planned: (current, changes) =>
      changes.some((c) => c.op === 'addSecret' || c.op === 'addCertificate') ? undefined : current,
  };
}

export interface ServicePrincipalState extends ServicePrincipal {
  createdNow?: boolean;
  /** Made by an administrator's consent while the run waited: it already holds what was consented (read it). */
  existed?: boolean;
}

export type ServicePrincipalChange = { op: 'create'; viaConsent: boolean };

/** The enterprise app (service principal) of the app in the mailbox tenant; a vendor app may need its admin's consent. */
export function servicePrincipalNode(
  ctx: TenantContext,
  inputs: { app: ManagedRef<AppState> },
): ManagedNode<ServicePrincipalState, typeof inputs, ServicePrincipalChange> {
  return {
    kind: 'managed',
    key: ENTRA_KEYS.servicePrincipal,
    title: `Service principal in ${ctx.options.tenant}`,
    inputs,
    read: async (_ctx, { app }) => (app ? readServicePrincipal(ctx.mailboxGraph, app.appId) : undefined),
    diff: (current) => (current ? [] : [{ op: 'create', viaConsent: false }]),
    async apply(ctx, _changes, _current, { app }) {
      const a = app!;
      try {
        // An external (ISV) multitenant app is installed the same way when the operator may create service
        // principals (Application.ReadWrite.All or an application administrator); otherwise by consent below.
        return await createServicePrincipal(ctx.mailboxGraph, a.appId, !a.external);
      } catch (err) {
        if (
          !(err instanceof ServicePrincipalNotAllowedError) &&
          !(err instanceof GraphRequestError && err.status === 403)
        )
          throw err;
      }
      const url = adminConsentUrl(ctx.profile.consentHost, ctx.mailboxTenantId, a.appId, consentRedirectUri(ctx));
      if (a.external && !ctx.options.redirectUris?.length)
        ctx.progress(
          "  (a vendor's app: give --redirect-uri with the reply URL the vendor registered, or Entra refuses the consent with AADSTS50011)",
        );
      ctx.progress(
        `An administrator of ${ctx.options.tenant} must consent to the app. Open this URL as that administrator:\n  ${url}`,
      );
      try {
        return await poll<ServicePrincipalState>(
          async () => {
            const sp = await readServicePrincipal(ctx.mailboxGraph, a.appId);
            return sp ? { done: true, value: { ...sp, existed: true } } : { done: false, reason: 'no consent yet' };
          },
          {
            what: `admin consent in ${ctx.options.tenant}`,
            deadlineMs: ctx.options.wait.ms,
            baseMs: ctx.hooks.consentPollBaseMs ?? 2000,
            capMs: 15_000,
            signal: ctx.signal,
          },
        );
      } catch (err) {
        if (err instanceof PollTimeoutError)
          throw new WaitingError(
            `waiting for admin consent in ${ctx.options.tenant}: open ${url} as its administrator, then rerun`,
          );
        throw err;
      }
    },
    describe: () => 'create the enterprise application (service principal)',
    actionOf: () => 'create',
  };
}

export type ConsentChange = { op: 'grant' };

/** Admin consent for SMTP.SendAsApp: the app role assignment on Office 365 Exchange Online. */
export function consentNode(
  ctx: TenantContext,
  inputs: { sp: ManagedRef<ServicePrincipalState>; exo: Ref<ExchangeOnlinePrincipal> },
): ManagedNode<{ granted: true }, typeof inputs, ConsentChange> {
  return {
    kind: 'managed',
    key: ENTRA_KEYS.consent,
    title: `Admin consent: SMTP.SendAsApp in ${ctx.options.tenant}`,
    inputs,
    async read(_ctx, { sp, exo }) {
      if (!sp) return undefined;
      const assignments = await readAppRoleAssignments(ctx.mailboxGraph, sp.id);
      return assignments.some((a) => a.resourceId === exo.id && a.appRoleId === exo.smtpSendAsAppRoleId)
        ? { granted: true }
        : undefined;
    },
    diff: (current) => (current?.granted ? [] : [{ op: 'grant' }]),
    async apply(ctx, _changes, _current, { sp, exo }) {
      await grantAppRole(ctx.mailboxGraph, {
        principalId: sp!.id,
        resourceId: exo.id,
        appRoleId: exo.smtpSendAsAppRoleId,
      });
      return { granted: true };
    },
    describe: () => 'grant the app role SMTP.SendAsApp (admin consent)',
    actionOf: () => 'create',
  };
}

export type RedirectChange = { op: 'addRedirectUris'; uris: string[] };

/**
 * The Web redirect URIs of the sending system's sign-in (delegated SMTP; Business Central on-premises'
 * OAuthLanding.htm also with client credentials). URIs already there are kept.
 */
export function redirectUrisNode(
  ctx: TenantContext,
  inputs: { app: ManagedRef<AppState> },
): ManagedNode<{ redirectUris: string[] }, typeof inputs, RedirectChange> {
  const wanted = wantedRedirectUris(ctx);
  const missing = (have: string[]): string[] => {
    const set = new Set(have.map((u) => u.toLowerCase()));
    return wanted.filter((u) => !set.has(u.toLowerCase()));
  };
  // The app's read (and a new app's create) already brings its web URIs: no request of their own.
  const haveOf = (app: AppState | undefined, current: { redirectUris: string[] } | undefined): string[] =>
    app?.app?.web ? (app.app.web.redirectUris ?? []) : (current?.redirectUris ?? []);
  return {
    kind: 'managed',
    key: ENTRA_KEYS.redirectUris,
    title: `Web redirect URIs (${wanted.join(', ')})`,
    inputs,
    async read(_ctx, { app }) {
      if (!app?.app) return undefined;
      return { redirectUris: haveOf(app, undefined) };
    },
    diff(current, { app }) {
      if (app?.external) return [];
      const add = missing(haveOf(app, current));
      return add.length === 0 ? [] : [{ op: 'addRedirectUris', uris: add }];
    },
    async apply(ctx, _changes, current, { app }) {
      // `web.redirectUris` is replaced as a whole: send the ones that are there too.
      const have = haveOf(app, current);
      const uris = [...have, ...missing(have)];
      await ctx.homeGraph.request(
        'PATCH',
        `/applications/${app!.app!.id}`,
        { web: { redirectUris: uris } },
        { idempotent: true },
      );
      return { redirectUris: uris };
    },
    describe: (c) => `add the Web redirect URIs ${c.uris.join(' ')}`,
    actionOf: () => 'update',
  };
}
