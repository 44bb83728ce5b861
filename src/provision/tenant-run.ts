/**
 * One run against one tenant — the single entry point every command renders (plan, apply, status, verify,
 * setup, handoff, demo): open → plan (the preflight: nothing is written until everything is known) → apply →
 * prove → hand-off facts → close. It holds no module state, so many runs can go side by side in one process.
 */
import { effectiveDisabled, type SmtpAuthState } from '../exchange/index.js';
import { formatDuration } from '../poll/index.js';
import { closeContext, type RunOptions, type TenantContext } from './context.js';
import {
  Execution,
  interruptedState,
  wroteAnything,
  summarizeReports,
  type NodeReport,
  type RunEvent,
} from './engine.js';
import { explainError } from './errors.js';
import type { Note } from './model.js';
import {
  buildGraph,
  delegatedConsentUrl,
  mailboxFactsGraph,
  type AppState,
  type CertificateMaterial,
  type CredentialState,
  type MailboxFacts,
  type RunRefs,
  type ServicePrincipalState,
  rotatedCredential,
} from './nodes/index.js';
import {
  credentialInHand,
  sendAsSummary,
  type SendAsFacts,
  type SendAsState,
  type SendAsSummary,
} from './nodes/index.js';
import { openContext, type OpenOptions } from './open.js';
import { finishRotation, type RotationReport } from './rotation.js';
import { resolveAccessMode, type MailboxAccessChoice } from './access-mode.js';
import {
  appToken,
  skippedVerification,
  verifyDelivery,
  type AppCredential,
  type VerificationReport,
  type VerifyInput,
} from './verify.js';

/** How a run ended; the CLI maps it to an exit code in one place. */
export type Outcome =
  'ok' | 'changes-pending' | 'bad-input' | 'failed' | 'waiting' | 'proof-not-passed' | 'interrupted';

export interface RunResult {
  changed: boolean;
  tenant: { id: string; input: string };
  homeTenant: { id: string };
  application: { appId?: string; id?: string; uniqueName?: string; displayName?: string };
  servicePrincipal: { id?: string };
  mailboxes: string[];
  /** The data and check nodes (tenant facts and rules). */
  preflight: NodeReport[];
  /** The managed nodes. */
  resources: NodeReport[];
  credential?: { type: string; keyId?: string; expires?: string; sink: string };
  smtpAuth?: {
    organizationDisabled: boolean;
    oauth2ClientProfileEnabled?: boolean;
    mailboxes: Array<{ mailbox: string; setting: boolean | null; effectiveDisabled: boolean }>;
  };
  verification?: VerificationReport;

  /** With --send-as-users / --send-as-group: the shared account and who may send as whom through it. */
  sendAs?: SendAsSummary;

  /** A rotation's second half (rotate, or apply within --rotate-within): what became of the replaced credential. */
  rotation?: RotationReport;
  /** The Exchange backend the run used, and why (`--exchange auto` names its choice). */
  exchange?: { backend: 'rest' | 'pwsh'; reason: string };
  /** How Exchange authorizes the app in this run, and why (given, or read from the tenant when unset). */
  mailboxAccess?: MailboxAccessChoice;
  notes: Note[];
  /** The first failure that stopped the run before any write: its field (exit 2) or none. */
  failure?: { kind: 'input' | 'tenant'; field?: string; message: string; key: string };
  pending: number;
  outcome: Outcome;
}

export interface TenantRunOptions extends OpenOptions {
  onEvent?: (e: RunEvent) => void;
  /** Test seam: after each managed node's write. */
  afterApply?: (key: string) => Promise<void> | void;
}

export class TenantRun {
  private execution?: Execution;
  private refs?: RunRefs;
  private phase: 'open' | 'plan' | 'apply' = 'open';
  private reports: NodeReport[] = [];
  private verification?: VerificationReport;
  private rotation?: RotationReport;
  private proofToken?: Promise<string | undefined>;

  private constructor(
    /** Replaced once, when `mailboxAccess` is resolved (plan). */
    public ctx: TenantContext,
    private readonly o: TenantRunOptions,
  ) {}

  /** Signs in, resolves the tenants and builds the clients. Throws OperatorError / ConfigError / sign-in errors. */
  static async open(options: RunOptions, o: TenantRunOptions): Promise<TenantRun> {
    return new TenantRun(await openContext(options, o), o);
  }

  /** Reads every node and diffs: the preflight. Writes nothing. */
  async plan(): Promise<RunResult> {
    if (!this.execution) {
      let known: MailboxFacts | undefined;
      if (this.ctx.options.group) {
        const facts = mailboxFactsGraph();
        const first = new Execution(facts.graph, this.ctx, this.executeOptions());
        const reports = await first.plan();
        if (reports.some((r) => r.status === 'failed')) {
          this.execution = first;
          this.reports = reports;
          this.phase = 'plan';
          return this.result();
        }
        known = first.outputs.get(facts.mailboxes.key) as MailboxFacts;
        this.groupFacts = known;
      }
      if (this.ctx.options.flow !== 'delegated') {
        const access = await resolveAccessMode(this.ctx);
        this.ctx = access.ctx;
        this.accessChoice = access.choice;
        this.forgetPrimedReads = access.forget;
      }
      const { graph, refs } = buildGraph(this.ctx, known);
      this.refs = refs;
      this.execution = new Execution(graph, this.ctx, this.executeOptions());
    }
    this.reports = await this.execution.plan();
    this.forgetPrimedReads?.();
    this.phase = 'plan';
    return this.result();
  }

  /** The writes, only after a plan without failures (planned here when it was not yet). */
  async apply(): Promise<RunResult> {
    const planned = this.phase === 'open' ? await this.plan() : this.result();
    if (!this.execution || planned.failure || this.reports.some((r) => r.status === 'failed')) return planned;
    this.phase = 'apply';
    this.reports = await this.execution.apply();
    return this.result();
  }

  /** The XOAUTH2 proof with the app's own credential (after apply, or on its own for a rerun). */
  async prove(): Promise<VerificationReport> {
    this.verification = await this.proveWith(this.result());
    return this.verification;
  }

  private async proveWith(r: RunResult): Promise<VerificationReport> {
    const o = this.ctx.options;
    if (o.verify === 'none') return skippedVerification('--verify none');
    if (o.flow === 'delegated')
      return skippedVerification('delegated SMTP: the login needs a user who signs in in the sending system');
    if (r.failure || r.outcome === 'failed' || r.outcome === 'waiting')
      return skippedVerification('not all resources are in place');
    const credential = this.credentialForProof();
    if (!r.application.appId) return skippedVerification('no application');
    if (!credential)
      return skippedVerification(
        r.application.id
          ? 'no app credential in hand (give --secret-out, or run `sendasapp verify --secret-file`)'
          : "the vendor's credential is not in hand: the vendor runs `sendasapp verify`",
      );
    const cred = this.value<CredentialState>(this.refs?.credential);
    return verifyDelivery({
      profile: this.ctx.profile,
      tenantId: this.ctx.mailboxTenantId,
      appId: r.application.appId,
      credential,
      mailboxes: r.mailboxes,
      rbac: o.mailboxAccess === 'rbac',
      sendTo: o.verify === 'send' ? o.sendTo : undefined,
      waitMs: o.wait.ms,
      progress: this.ctx.progress,
      signal: this.ctx.signal,
      bounds: this.ctx.bounds,
      initialDelayMs: this.ctx.hooks.proofRetryBaseMs,
      firstToken: this.proofToken,
      credentialIsNew: Boolean(cred?.created),
      sendAs: this.sendAsProofTarget(),
    });
  }

  /** With send-as users: the first of them, From whom the proof's extra message goes through the shared account. */
  private sendAsProofTarget(): VerifyInput['sendAs'] {
    const facts = this.value<SendAsFacts>(this.refs?.sendAsUsers);
    const from = facts?.users[0];
    if (!facts || !from) return undefined;
    const state = this.value<SendAsState>(this.refs?.sendAsGrants);
    const granted = (state?.pairs ?? []).some((p) => p.user === from && p.account === facts.account && p.granted);
    return { account: facts.account, from, granted };
  }

  /**
   * The rotation's second half, after the proof and the hand-off: the replaced credential is retired (a passed
   * proof and no grace), or the end of its grace is recorded in the sink, or it is kept (the proof did not pass).
   * Nothing when the run did not rotate.
   */
  async finishRotation(): Promise<RotationReport | undefined> {
    const cred = this.value<CredentialState>(this.refs?.credential);
    this.rotation = await finishRotation(this.ctx, this.application()?.app, rotatedCredential(cred), this.verification);
    return this.rotation;
  }

  /** The app credential this run can prove with: the one it made, or the one the sink or certificate file holds. */
  credentialForProof(): AppCredential | undefined {
    return credentialInHand(
      this.ctx,
      this.value<CredentialState>(this.refs?.credential),
      this.value<CertificateMaterial>(this.refs?.certificate),
    );
  }

  /** The app as the run last saw it (its credentials list the expiries for status). */
  application(): AppState | undefined {
    return this.value<AppState>(this.refs?.application);
  }

  /** Whether the app's service principal or its SMTP.SendAsApp grant is still missing in the mailbox tenant. */
  consentPending(): boolean {
    return this.reports.some(
      (r) =>
        (r.key === 'entra.servicePrincipal' || r.key === 'entra.consent') &&
        !['unchanged', 'created'].includes(r.status),
    );
  }

  /** A new secret made by this run, for `--show-secret` and `--include-secret` only. */
  newSecret(): string | undefined {
    // A rotation whose new secret did not pass the proof: the sink holds the old one again, the hand-off names it.
    if (this.rotation?.status === 'kept') return undefined;
    return this.value<CredentialState>(this.refs?.credential)?.created?.secret?.reveal();
  }

  /** Where the run stands: the JSON result every command prints (the proof once it ran). */
  result(): RunResult {
    const { preflight, resources, failure, pending, changed } = summarizeReports(this.reports);
    const app = this.value<AppState>(this.refs?.application);
    const sp = this.value<ServicePrincipalState>(this.refs?.servicePrincipal);
    const cred = this.value<CredentialState>(this.refs?.credential);
    const smtp = this.value<SmtpAuthState>(this.refs?.smtpAuth);
    const facts = this.value<MailboxFacts>(this.refs?.mailboxes) ?? this.groupFacts;
    const mailboxes = facts?.mailboxes ?? [...this.ctx.options.mailboxes];
    return {
      changed,
      tenant: { id: this.ctx.mailboxTenantId, input: this.ctx.options.tenant },
      homeTenant: { id: this.ctx.homeTenantId },
      application: {
        appId: app?.appId,
        id: app?.app?.id,
        uniqueName: app?.app?.uniqueName ?? undefined,
        displayName: app?.app?.displayName ?? undefined,
      },
      servicePrincipal: { id: sp?.id },
      mailboxes,
      preflight,
      resources,
      ...(cred ? { credential: { type: cred.type, ...this.credentialInUse(cred), sink: cred.sink } } : {}),
      ...(smtp
        ? {
            smtpAuth: {
              organizationDisabled: smtp.organizationDisabled,
              oauth2ClientProfileEnabled: smtp.oauth2ClientProfileEnabled,
              mailboxes: mailboxes.map((m) => ({
                mailbox: m,
                setting: smtp.mailboxes[m] ?? null,
                effectiveDisabled: effectiveDisabled(smtp, m),
              })),
            },
          }
        : {}),
      ...(this.verification ? { verification: this.verification } : {}),

      ...(this.value(this.refs?.sendAsUsers)
        ? {
            sendAs: sendAsSummary(
              this.value<SendAsFacts>(this.refs?.sendAsUsers)!,
              this.value<SendAsState>(this.refs?.sendAsGrants),
            ),
          }
        : {}),

      ...(this.rotation ? { rotation: this.rotation } : {}),
      ...(this.value(this.refs?.exchangeBackend)
        ? { exchange: this.value<{ backend: 'rest' | 'pwsh'; reason: string }>(this.refs?.exchangeBackend) }
        : {}),
      ...(this.accessChoice ? { mailboxAccess: this.accessChoice } : {}),
      notes: this.notes(app, cred, smtp, mailboxes),
      ...(failure ? { failure } : {}),
      pending,
      outcome: this.outcomeOf(failure, pending),
    };
  }

  private outcomeOf(failure: RunResult['failure'], pending: number): Outcome {
    if (this.ctx.signal.aborted) return 'interrupted';
    // Bad input found before any write is exit 2; anything else that failed is exit 1.
    if (failure) return failure.kind === 'input' && !this.wroteAnything() ? 'bad-input' : 'failed';
    if (this.reports.some((r) => r.status === 'waiting')) return 'waiting';
    if (this.verification?.status === 'failed') return this.verification.timedOut ? 'proof-not-passed' : 'failed';
    if (this.phase === 'plan' && pending > 0) return 'changes-pending';
    return 'ok';
  }

  /** The credential the sink holds for use: the new one, or the old one again after a rotation kept it. */
  private credentialInUse(cred: CredentialState): { keyId?: string; expires?: string } {
    const old = this.rotation?.status === 'kept' ? this.rotation.old[0] : undefined;
    return old ? { keyId: old.keyId, expires: old.expires } : { keyId: cred.keyId, expires: cred.expires };
  }

  /** Whether any write of this run completed (for the interrupted summary and the failure's exit code). */
  wroteAnything(): boolean {
    return wroteAnything(this.reports);
  }

  /** What the interrupted summary lists: what completed, and what was in flight. */
  interruptedState(): { changed: string[]; inFlight: string[] } {
    return interruptedState(this.execution, this.reports);
  }

  async close(): Promise<void> {
    await closeContext(this.ctx);
  }

  // ---- internals ----

  /** With --group: the mailbox facts read before the graph was built. */
  private groupFacts?: MailboxFacts;
  /** The resolved `mailboxAccess`, and how to drop the detection's reads once the preflight has used them. */
  private accessChoice?: MailboxAccessChoice;
  private forgetPrimedReads?: () => void;

  private value<T>(ref: { key: string } | undefined): T | undefined {
    return ref ? (this.execution?.outputs.get(ref.key) as T | undefined) : undefined;
  }

  private executeOptions() {
    return {
      explain: explainError,
      afterApply: this.o.afterApply,
      onEvent: (e: RunEvent) => {
        this.o.onEvent?.(e);
        if (e.type === 'end' && e.phase === 'apply') this.maybePrefetchProofToken();
      },
    };
  }

  /**
   * Starts fetching the app's own token as soon as its credential and its permission (consent, or in rbac mode the
   * service principal) are in place, so that the proof does not wait for it after the Exchange steps.
   */
  private maybePrefetchProofToken(): void {
    if (this.proofToken || this.ctx.options.verify === 'none' || this.ctx.options.flow === 'delegated') return;
    const done = (key: string | undefined): boolean => {
      const r = key ? this.execution?.completed.find((x) => x.key === key) : undefined;
      return !!r && ['created', 'updated', 'unchanged'].includes(r.status);
    };
    const refs = this.refs;
    if (!refs) return;
    const permission = this.ctx.options.mailboxAccess === 'rbac' ? refs.servicePrincipal.key : refs.consent?.key;
    if (!done(refs.credential.key) || !done(permission)) return;
    this.proofToken = (async () => {
      const credential = this.credentialForProof();
      const app = this.value<AppState>(refs.application);
      if (!credential || !app) return undefined;
      return appToken({
        profile: this.ctx.profile,
        tenantId: this.ctx.mailboxTenantId,
        appId: app.appId,
        credential,
        signal: this.ctx.signal,
        bounds: this.ctx.bounds,
      });
    })().catch(() => undefined);
  }

  private notes(
    app: AppState | undefined,
    cred: CredentialState | undefined,
    smtp: SmtpAuthState | undefined,
    mailboxes: string[],
  ): Note[] {
    const o = this.ctx.options;
    const notes: Note[] = [];
    if (smtp && o.enableSmtpAuth === 'none') {
      const blocked = mailboxes.filter((m) => effectiveDisabled(smtp, m));
      if (blocked.length > 0)
        notes.push({
          code: 'smtp-auth-disabled',
          severity: 'warning',
          text: `SMTP AUTH is disabled for ${blocked.join(', ')} (${smtp.organizationDisabled ? 'organization default' : 'mailbox setting'}): the XOAUTH2 login will fail with 535 5.7.139 until you rerun with --enable-smtp-auth mailbox`,
        });
    }
    if (smtp?.oauth2ClientProfileEnabled === false)
      notes.push({
        code: 'modern-auth-off',
        severity: 'warning',
        text: 'OAuth2ClientProfileEnabled (modern authentication) is off in OrganizationConfig: turn it on (Set-OrganizationConfig -OAuth2ClientProfileEnabled $true)',
      });
    if (app?.external)
      notes.push({
        code: 'vendor-app',
        severity: 'info',
        text: `app ${app.appId} is not registered in the home tenant (a vendor's app): only its consent and the Exchange side are managed here`,
      });
    if (app?.legacyKey)
      notes.push({
        code: 'legacy-key',
        severity: 'info',
        text: `the app was made by an earlier sendasapp under the key ${this.ctx.names.legacyUniqueName}; it is kept under that key (a uniqueName cannot change)`,
      });
    if (o.flow === 'delegated' && app?.appId)
      notes.push({
        code: 'delegated-consent',
        severity: 'info',
        text: `delegated SMTP: each sending user (or an administrator for all: ${delegatedConsentUrl(this.ctx.profile.consentHost, this.ctx.mailboxTenantId, app.appId, o.redirectUris?.[0])}) consents to SMTP.Send at the first sign-in in the sending system; no Exchange mailbox permission is needed`,
      });
    if (cred?.heldElsewhere)
      notes.push({
        code: 'credential-held-elsewhere',
        severity: 'warning',
        text: 'a secret of ours exists but its value is not in a --secret-out file: the proof needs it (use verify --secret-file, or give --secret-out to get a new one)',
      });
    if (o.wait.ms > 0 && this.phase === 'apply' && this.reports.some((r) => r.status === 'waiting'))
      notes.push({
        code: 'waited',
        severity: 'info',
        text: `waited ${formatDuration(o.wait.ms)} (--wait) for what is marked waiting`,
      });
    return notes;
  }
}
