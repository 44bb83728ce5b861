/**
 * The pwsh backend: ExchangeOnlineManagement in ONE long-lived PowerShell session per tenant run. The bridge script
 * (templates/exchange/bridge.ps1) connects once and then answers JSON lines; cmdlet parameters travel as JSON data
 * and are splatted, so no value ever becomes script text. A crashed or hung pwsh is restarted and reconnected once;
 * after that the run fails with a clear message. Tokens travel on stdin only: never on the command line or in the
 * environment (pwsh gets only what it needs, environment.ts), and every line passed on from pwsh is redacted.
 *
 * Off the critical path: `start()` spawns, imports and connects at once (the factory calls it when it makes the
 * backend), `probe()` answers from the bridge's first line whether this pwsh and module can run (the preflight), and
 * `invokeMany()` sends independent reads in one message.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ExchangeError, type CmdletParameters, type ExchangeBackend, type ExchangeCall } from '../backend.js';
import { bridgeArgs } from './bridge-path.js';
import { allowedCmdlet, PWSH_CMDLETS, type PwshCmdlet } from './cmdlets.js';
import { bridgeEnvironment } from './environment.js';
import { bridgeErrorMessage, classifyBridgeError } from './errors.js';
import { BridgeFailure, BridgeProcess, OWN_PROCESS_GROUP, within } from './process.js';
import { probeFromHello, type PwshProbe } from './probe.js';
import {
  encodeLine,
  PROTOCOL_VERSION,
  type BridgeErrorInfo,
  type CallResult,
  type ConnectMessage,
  type ConnectMode,
  type ConnectParameters,
  type ResponseMessage,
} from './protocol.js';
import { Redactor } from './redact.js';

export interface ExchangeAccessToken {
  token: string;
  /** Epoch ms; the session is given a fresh token five minutes before. */
  expiresOnTimestamp?: number;
}

interface ConnectCommon {
  /** Connect-ExchangeOnline -ExchangeEnvironmentName (from the cloud profile). */
  exchangeEnvironmentName?: string;
  /** -ConnectionUri: only for the emulator and hand-written endpoint profiles. */
  connectionUri?: string;
  azureADAuthorizationEndpointUri?: string;
}

/** How the bridge signs in to Exchange. */
export type PwshConnect = ConnectCommon &
  (
    | {
        /** A token the operator credential obtained for the cloud's Exchange scope (sign in once for Graph and Exchange). */
        mode: 'access-token';
        getToken: () => Promise<ExchangeAccessToken>;
        organization?: string;
        delegatedOrganization?: string;
        userPrincipalName?: string;
      }
    | {
        /** App-only with a certificate file (PFX), for pipelines. */
        mode: 'certificate';
        appId: string;
        certificateFilePath: string;
        certificatePassword?: string;
        organization: string;
      }
    | { mode: 'managed-identity'; organization: string; managedIdentityAccountId?: string }
    | { mode: 'device'; userPrincipalName?: string; delegatedOrganization?: string }
  );

export interface PwshStats {
  spawns: number;
  /** Successful Connect-ExchangeOnline calls (a token refresh counts). */
  connects: number;
  /** Cmdlet requests sent to the bridge (a 'many' message counts once). */
  requests: number;
  /** Cmdlets run (each call of a 'many' counts). */
  cmdlets: number;
  restarts: number;
  psVersion?: string;
  moduleVersion?: string;
  /** Spawn to connected, spawn to the hello line, and the bridge's own import and connect times (for benchmarks). */
  startMs?: number;
  helloMs?: number;
  importMs?: number;
  connectMs?: number;
}

export interface PwshBackendOptions {
  connect: PwshConnect;
  /** The PowerShell executable (default `pwsh`; tests run a Node script speaking the protocol). */
  executable?: string;
  /** Default: -NoLogo -NoProfile -NonInteractive -File templates/exchange/bridge.ps1. */
  args?: string[];
  /**
   * Extra environment for the process (never a secret: secrets go on stdin). The rest of the environment is only
   * what pwsh needs (see environment.ts), taken from `parentEnv` (default process.env).
   */
  env?: Record<string, string | undefined>;
  parentEnv?: NodeJS.ProcessEnv;
  /** Cmdlets to load with -CommandName (default: all the whitelisted ones). */
  commandNames?: readonly string[];
  /** Per-cmdlet timeout (default 5 minutes), and overrides by cmdlet name. */
  timeoutMs?: number;
  cmdletTimeoutMs?: Partial<Record<string, number>>;
  /** Start, import and connect (default 3 minutes; 15 with -Device, someone has to type the code). */
  startTimeoutMs?: number;
  /** How long close() waits for Disconnect-ExchangeOnline before killing (default 10 s). */
  closeGraceMs?: number;
  /** Restarts after a crash or a hang (default 1). */
  maxRestarts?: number;
  /** Throttled / transient cmdlet errors are retried until this deadline per call (default 2 minutes). */
  retryDeadlineMs?: number;
  signal?: AbortSignal;
  /** Lines pwsh printed outside the protocol (stderr, host messages such as the device-code prompt), redacted. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  onRetry?: (what: string, delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

function toArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

const MODE: Record<PwshConnect['mode'], ConnectMode> = {
  'access-token': 'AccessToken',
  certificate: 'Certificate',
  'managed-identity': 'ManagedIdentity',
  device: 'Device',
};

export class PwshExchangeBackend implements ExchangeBackend {
  readonly name = 'pwsh' as const;
  readonly stats: PwshStats = { spawns: 0, connects: 0, requests: 0, cmdlets: 0, restarts: 0 };
  /** The last command line started (for tests: it must never hold a secret). */
  lastSpawn?: { file: string; args: string[] };
  private proc?: BridgeProcess;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing?: Promise<void>;
  /** Set once the session is given up: every later call fails with it. */
  private failure?: ExchangeError;
  private tokenExpires?: number;
  private readonly redactor = new Redactor();
  private started?: Promise<void>;
  /** Resolves with the first process once spawned (undefined if the spawn itself threw). */
  private readonly spawned: Promise<BridgeProcess | undefined>;
  private resolveSpawned: (p: BridgeProcess | undefined) => void = () => undefined;

  constructor(private readonly o: PwshBackendOptions) {
    this.spawned = new Promise((resolve) => (this.resolveSpawned = resolve));
    if (o.connect.mode === 'certificate') this.redactor.add(o.connect.certificatePassword);
    o.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  get requestCount(): number {
    return this.stats.requests;
  }

  /** The bridge runs one message at a time: calls queue up in order. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  invoke<T = Record<string, unknown>>(cmdlet: string, parameters: CmdletParameters = {}): Promise<T[]> {
    return this.enqueue(() => this.run<T>(cmdlet, parameters));
  }

  /**
   * Starts pwsh, imports the module and connects now, without waiting for a cmdlet: call it at the beginning of a
   * run, so that the seconds PowerShell needs pass while sign-in and Graph work go on. Never rejects: a failure is
   * kept and thrown by the first call (or read with `probe()`). Idempotent.
   */
  start(): Promise<void> {
    this.started ??= this.enqueue(async () => {
      try {
        this.usable('Connect-ExchangeOnline');
        await this.ready('Connect-ExchangeOnline');
      } catch (err) {
        if (err instanceof BridgeFailure) await this.recover(err, 'Connect-ExchangeOnline');
        else throw err;
      }
    })
      .catch(() => undefined)
      // Closed or aborted before anything was spawned: probe() must not wait for a process that will never come.
      .finally(() => this.resolveSpawned(undefined));
    return this.started;
  }

  /**
   * Is this pwsh ready (7.4+, ExchangeOnlineManagement 3.x)? Answered from the bridge's first line, by the same
   * process that then runs the cmdlets (no second pwsh), so a run can decide before any write. Starts the bridge
   * (`start()`) if it is not running yet; does not wait for the connection.
   */
  async probe(): Promise<PwshProbe> {
    const executable = this.o.executable ?? 'pwsh';
    void this.start();
    const proc = await this.spawned;
    const timeout = this.o.startTimeoutMs ?? 180_000;
    const hello = proc && (await within(proc.hello, timeout)) ? await proc.hello : undefined;
    if (hello) return probeFromHello(executable, hello);
    if (proc?.alive) return probeFromHello(executable, undefined, { timedOut: true });
    const exit = proc?.failureFromExit();
    return probeFromHello(executable, undefined, {
      spawnCode: exit?.spawnCode,
      message: exit?.message ?? 'not started',
    });
  }

  /**
   * Independent reads in ONE message: the bridge runs them in order and answers them together, saving a round
   * trip each. Each call's rows or its ExchangeError, in the order of `calls`; a throttled or transient one is
   * retried on its own afterwards.
   */
  invokeMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    if (calls.length <= 1)
      return Promise.all(
        calls.map((c) =>
          this.invoke(c.cmdlet, c.parameters).catch((err: unknown) => {
            if (err instanceof ExchangeError) return err;
            throw err;
          }),
        ),
      );
    return this.enqueue(() => this.runMany(calls));
  }

  private usable(cmdlet: string): void {
    if (this.o.signal?.aborted) throw this.o.signal.reason;
    if (this.failure) throw this.failure;
    if (this.closed) throw new ExchangeError(cmdlet, 'unknown', 'the PowerShell session was already closed');
  }

  private timeoutFor(cmdlet: string): number {
    return this.o.cmdletTimeoutMs?.[cmdlet] ?? this.o.timeoutMs ?? 300_000;
  }

  private sleep(ms: number): Promise<void> {
    if (this.o.sleep) return this.o.sleep(ms, this.o.signal);
    // timers/promises removes its abort listener when the timer fires (no listener piles up over retries).
    return delay(ms, undefined, this.o.signal ? { signal: this.o.signal } : undefined).catch((err: unknown) => {
      throw this.o.signal?.aborted ? this.o.signal.reason : err;
    });
  }

  private notAllowed(cmdlet: string): ExchangeError {
    return new ExchangeError(
      cmdlet,
      'invalid-input',
      `${cmdlet} is not one of the cmdlets the pwsh bridge runs (${PWSH_CMDLETS.join(', ')})`,
    );
  }

  /** One message to the connected bridge; a crash or a hang restarts it (once) and sends the message again. */
  private async send(
    what: string,
    build: (id: number) => string,
    timeoutMs: number,
    cmdlets: number,
  ): Promise<ResponseMessage> {
    for (;;) {
      this.usable(what);
      try {
        const proc = await this.ready(what);
        await this.refreshToken(proc, what);
        const id = this.nextId++;
        this.stats.requests += 1;
        this.stats.cmdlets += cmdlets;
        return await proc.request(id, build(id), timeoutMs, this.o.signal);
      } catch (err) {
        if (err instanceof BridgeFailure) {
          await this.recover(err, what);
          continue;
        }
        throw err;
      }
    }
  }

  private failed(name: string, info: BridgeErrorInfo): ExchangeError {
    return new ExchangeError(name, classifyBridgeError(info), this.redactor.redact(bridgeErrorMessage(info)));
  }

  private async run<T>(cmdlet: string, parameters: CmdletParameters): Promise<T[]> {
    const name = allowedCmdlet(cmdlet);
    if (!name) throw this.notAllowed(cmdlet);
    const deadline = Date.now() + (this.o.retryDeadlineMs ?? 120_000);
    let delay = 1000;
    for (;;) {
      const answer = await this.send(
        name,
        (id) => encodeLine({ id, cmdlet: name, parameters }),
        this.timeoutFor(name),
        1,
      );
      if (answer.ok) return toArray(answer.value) as T[];
      const err = this.failed(name, answer.error ?? {});
      if ((err.kind === 'throttled' || err.kind === 'transient') && Date.now() + delay <= deadline) {
        this.o.onRetry?.(`${name}: ${err.exchangeMessage}`, delay);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 16_000);
        continue;
      }
      throw err;
    }
  }

  private async runMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    const out: Array<unknown[] | ExchangeError | undefined> = calls.map(() => undefined);
    const sent: Array<{ index: number; cmdlet: PwshCmdlet; parameters: CmdletParameters }> = [];
    calls.forEach((c, index) => {
      const name = allowedCmdlet(c.cmdlet);
      if (name) sent.push({ index, cmdlet: name, parameters: c.parameters ?? {} });
      else out[index] = this.notAllowed(c.cmdlet);
    });
    if (sent.length > 0) {
      const timeout = sent.reduce((sum, c) => sum + this.timeoutFor(c.cmdlet), 0);
      const answer = await this.send(
        sent.map((c) => c.cmdlet).join(', '),
        (id) =>
          encodeLine({ id, type: 'many', calls: sent.map((c) => ({ cmdlet: c.cmdlet, parameters: c.parameters })) }),
        timeout,
        sent.length,
      );
      const results: CallResult[] = answer.ok && Array.isArray(answer.results) ? answer.results : [];
      const retry: typeof sent = [];
      sent.forEach((c, i) => {
        const r = results[i] ?? { ok: false, error: answer.error ?? { message: 'the bridge gave no answer for it' } };
        if (r.ok) {
          out[c.index] = toArray(r.value);
          return;
        }
        const err = this.failed(c.cmdlet, r.error ?? {});
        if (err.kind === 'throttled' || err.kind === 'transient') retry.push(c);
        else out[c.index] = err;
      });
      // Retried one by one, with run()'s backoff and deadline (already inside the queue: no enqueue).
      for (const c of retry) {
        try {
          out[c.index] = await this.run(c.cmdlet, c.parameters);
        } catch (err) {
          if (!(err instanceof ExchangeError)) throw err;
          out[c.index] = err;
        }
      }
    }
    return out as Array<unknown[] | ExchangeError>;
  }

  /** The connected bridge, started and connected on first use. */
  private async ready(cmdlet: string): Promise<BridgeProcess> {
    if (this.proc) return this.proc;
    const started = Date.now();
    let proc: BridgeProcess;
    try {
      proc = await this.spawn();
    } catch (err) {
      this.resolveSpawned(undefined);
      throw err;
    }
    this.resolveSpawned(proc);
    void proc.hello.then((h) => {
      if (h && this.stats.helloMs === undefined) this.stats.helloMs = Date.now() - started;
    });
    this.proc = proc;
    try {
      await this.connect(proc, cmdlet);
    } catch (err) {
      if (err instanceof ExchangeError) {
        // The bridge itself reported the failure (module missing, sign-in refused): a restart would not help.
        this.failure = err;
        this.proc = undefined;
        await proc.shutdown(2000);
      } else if (!(err instanceof BridgeFailure)) {
        // No token for the connect (the operator's sign-in failed): this bridge never connected, so no later
        // message may go to it as if it had; the next call starts and connects a new one.
        this.proc = undefined;
        await proc.shutdown(2000);
      }
      throw err;
    }
    this.stats.startMs = Date.now() - started;
    return proc;
  }

  private async spawn(): Promise<BridgeProcess> {
    const { execa } = await import('execa');
    const file = this.o.executable ?? 'pwsh';
    const args = this.o.args ?? bridgeArgs();
    this.lastSpawn = { file, args: [...args] };
    this.stats.spawns += 1;
    const child = execa(file, args, {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // Not execa's cleanup: its signal-exit hook re-raises SIGINT when it thinks it is the last listener, which
      // would kill sendasapp on Ctrl-C before the run can report what it changed. BridgeProcess kills on exit.
      cleanup: false,
      windowsHide: true,
      // Its own process group: every kill reaches the engine behind the dotnet-tool shim (process.ts).
      ...OWN_PROCESS_GROUP,
      // Only what pwsh needs: no credential of sendasapp's own is inherited (tokens travel on stdin).
      extendEnv: false,
      env: bridgeEnvironment(this.o.parentEnv ?? process.env, {
        managedIdentity: this.o.connect.mode === 'managed-identity',
        extra: this.o.env,
      }),
    });
    return new BridgeProcess(child, this.redactor, (line, stream) => this.o.onOutput?.(line, stream));
  }

  private async connectMessage(): Promise<ConnectMessage> {
    const c = this.o.connect;
    const p: ConnectParameters = {};
    if (c.exchangeEnvironmentName) p.ExchangeEnvironmentName = c.exchangeEnvironmentName;
    if (c.connectionUri) p.ConnectionUri = c.connectionUri;
    if (c.azureADAuthorizationEndpointUri) p.AzureADAuthorizationEndpointUri = c.azureADAuthorizationEndpointUri;
    switch (c.mode) {
      case 'access-token': {
        const t = await c.getToken();
        if (!t?.token)
          throw new ExchangeError(
            'Connect-ExchangeOnline',
            'access-denied',
            'the operator credential returned no Exchange token',
          );
        this.redactor.add(t.token);
        this.tokenExpires = t.expiresOnTimestamp;
        p.AccessToken = t.token;
        if (c.delegatedOrganization) p.DelegatedOrganization = c.delegatedOrganization;
        else if (c.organization) p.Organization = c.organization;
        if (c.userPrincipalName) p.UserPrincipalName = c.userPrincipalName;
        break;
      }
      case 'certificate':
        p.AppId = c.appId;
        p.CertificateFilePath = c.certificateFilePath;
        if (c.certificatePassword) p.CertificatePassword = c.certificatePassword;
        p.Organization = c.organization;
        break;
      case 'managed-identity':
        p.ManagedIdentity = true;
        p.Organization = c.organization;
        if (c.managedIdentityAccountId) p.ManagedIdentityAccountId = c.managedIdentityAccountId;
        break;
      case 'device':
        p.Device = true;
        if (c.userPrincipalName) p.UserPrincipalName = c.userPrincipalName;
        if (c.delegatedOrganization) p.DelegatedOrganization = c.delegatedOrganization;
        break;
    }
    return {
      id: this.nextId++,
      type: 'connect',
      protocol: PROTOCOL_VERSION,
      mode: MODE[c.mode],
      connect: p,
      commandName: [...(this.o.commandNames ?? PWSH_CMDLETS)],
    };
  }

  private async connect(proc: BridgeProcess, cmdlet: string): Promise<void> {
    const message = await this.connectMessage();
    const timeout = this.o.startTimeoutMs ?? (this.o.connect.mode === 'device' ? 900_000 : 180_000);
    const answer = await proc.request(message.id, encodeLine(message), timeout, this.o.signal);
    if (!answer.ok) {
      const info = answer.error ?? {};
      const text = this.redactor.redact(bridgeErrorMessage(info));
      if (answer.stage === 'module' || answer.stage === 'pwsh')
        throw new ExchangeError(
          'Import-Module ExchangeOnlineManagement',
          'unknown',
          `${text}. Fix: run \`sendasapp doctor\` for the install commands, or use --exchange rest`,
        );
      throw new ExchangeError('Connect-ExchangeOnline', classifyBridgeError(info), `${text} (before ${cmdlet})`);
    }
    this.stats.connects += 1;
    this.stats.psVersion = answer.psVersion ?? this.stats.psVersion;
    this.stats.moduleVersion = answer.moduleVersion ?? this.stats.moduleVersion;
    if (typeof answer.importMs === 'number') this.stats.importMs = answer.importMs;
    if (typeof answer.connectMs === 'number') this.stats.connectMs = answer.connectMs;
  }

  /** -AccessToken sessions cannot renew themselves: five minutes before expiry the bridge reconnects with a new one. */
  private async refreshToken(proc: BridgeProcess, cmdlet: string): Promise<void> {
    if (this.o.connect.mode !== 'access-token' || this.tokenExpires === undefined) return;
    if (this.tokenExpires - Date.now() > TOKEN_REFRESH_MARGIN_MS) return;
    await this.connect(proc, cmdlet);
  }

  /** After a crash or a hang: restart and reconnect once, else give the session up with a sentence to act on. */
  private async recover(err: BridgeFailure, cmdlet: string): Promise<void> {
    const old = this.proc;
    this.proc = undefined;
    await old?.kill();
    if (this.o.signal?.aborted) throw this.o.signal.reason;
    if (this.closed) throw new ExchangeError(cmdlet, 'unknown', 'the PowerShell session was closed');
    const file = this.lastSpawn?.file ?? 'pwsh';
    if (err.reason === 'spawn') {
      this.failure = new ExchangeError(
        cmdlet,
        'unknown',
        `PowerShell (${file}) ${err.message}: --exchange pwsh needs PowerShell ${'7.4'} or later with the ExchangeOnlineManagement module. Fix: run \`sendasapp doctor\` for the install commands, or use --exchange rest`,
      );
      throw this.failure;
    }
    const what = err.reason === 'timeout' ? `hung (${err.message})` : err.message;
    if (this.stats.restarts >= (this.o.maxRestarts ?? 1)) {
      this.failure = new ExchangeError(
        cmdlet,
        'transient',
        `PowerShell (${file}) ${what} while running ${cmdlet}, after it had already been restarted once; the Exchange session is given up. Fix: rerun (the run converges where it stopped); if it happens again, check \`sendasapp doctor\` or use --exchange rest`,
      );
      throw this.failure;
    }
    this.stats.restarts += 1;
    this.o.onRetry?.(`PowerShell (${file}) ${what} while running ${cmdlet}: restarting it and reconnecting`, 0);
  }

  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.resolveSpawned(undefined);
    const proc = this.proc;
    this.proc = undefined;
    // After Ctrl-C nobody waits 10 s for a cmdlet to finish: 2 s for Disconnect, then the process group is ended.
    const grace = this.o.closeGraceMs ?? 10_000;
    this.closing = proc ? proc.shutdown(this.o.signal?.aborted ? Math.min(grace, 2000) : grace) : Promise.resolve();
    return this.closing;
  }
}
