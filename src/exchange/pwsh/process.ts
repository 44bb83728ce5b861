/**
 * One running bridge: a pwsh child started with execa, answers matched to requests by id, stderr and stray stdout
 * lines passed on (redacted), and the ways it can end (exit, spawn failure, kill).
 *
 * The child leads its own process group (`detached`): the .NET global tool's `pwsh` is a shim that runs the real
 * engine (`dotnet pwsh.dll`) as ITS child, so killing the shim alone would leave the engine running with parent 1.
 * Every kill, and the end of the leader however it came, signals the whole group.
 */
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { parseLine, type HelloMessage, type ResponseMessage } from './protocol.js';
import type { Redactor } from './redact.js';

/** The bridge died, hung or could not start: the backend may restart it (once). */
export class BridgeFailure extends Error {
  constructor(
    readonly reason: 'exit' | 'timeout' | 'spawn',
    message: string,
    /** errno of a failed spawn (ENOENT when pwsh is not installed). */
    readonly spawnCode?: string,
  ) {
    super(message);
    this.name = 'BridgeFailure';
  }
}

export interface ExitInfo {
  exitCode?: number;
  signal?: string;
  /** errno when the process could not be started. */
  spawnCode?: string;
}

interface Pending {
  resolve(m: ResponseMessage): void;
  reject(e: unknown): void;
}

const STDERR_TAIL = 20;

/** The execa options that put the bridge in its own process group (POSIX) so that `killTree` reaches the engine. */
export const OWN_PROCESS_GROUP = { detached: process.platform !== 'win32' } as const;

/** Signals a process and everything in its group (POSIX) or its tree (Windows). Never throws. */
export function killTree(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  if (process.platform === 'win32') {
    spawnSync('taskkill', ['/PID', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

/** Resolves true when `p` settles within `ms`, false otherwise (the timer never keeps the process alive). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class BridgeProcess {
  readonly exited: Promise<ExitInfo>;
  /** The bridge's first line (versions and modules), or undefined if it ended or spoke before saying it. */
  readonly hello: Promise<HelloMessage | undefined>;
  private resolveHello!: (m: HelloMessage | undefined) => void;
  private exit?: ExitInfo;
  private readonly pending = new Map<number, Pending>();
  private readonly stderrTail: string[] = [];
  private readonly stdin: Writable;

  constructor(
    private readonly child: ResultPromise,
    private readonly redactor: Redactor,
    private readonly onOutput: (line: string, stream: 'stdout' | 'stderr') => void,
  ) {
    this.stdin = child.stdin!;
    this.hello = new Promise((resolve) => (this.resolveHello = resolve));
    // Writing to a pipe whose reader died raises EPIPE on the stream: the exit handler reports it instead.
    this.stdin.on('error', () => undefined);
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => this.onStdout(line));
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (line) => {
      const clean = this.redactor.redact(line);
      this.stderrTail.push(clean);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      if (clean.trim()) this.onOutput(clean, 'stderr');
    });
    // If sendasapp exits without close() (an uncaught error, process.exit), the bridge must not outlive it.
    const onParentExit = (): void => killTree(child.pid, 'SIGKILL');
    process.once('exit', onParentExit);
    this.exited = child
      .then(
        (r) => this.onExit(r as unknown as Record<string, unknown>),
        (err: unknown) => this.onExit(err as Record<string, unknown>),
      )
      .finally(() => process.off('exit', onParentExit));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  private onStdout(line: string): void {
    const m = parseLine(line);
    if (m && m.type === 'hello') {
      this.resolveHello(m as HelloMessage);
      return;
    }
    if (m && typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (p) {
        p.resolve(m);
        return;
      }
    }
    if (m) return; // an answer nobody waits for any more (after a timeout): dropped
    const clean = this.redactor.redact(line);
    if (clean.trim()) this.onOutput(clean, 'stdout');
  }

  private onExit(r: Record<string, unknown>): ExitInfo {
    const code = typeof r.code === 'string' ? r.code : undefined;
    const info: ExitInfo = {
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : undefined,
      signal: typeof r.signal === 'string' ? r.signal : undefined,
      // execa reports a process that never started with the spawn errno (ENOENT, EACCES) and no exit code.
      spawnCode: code && r.exitCode === undefined && /^E[A-Z]+$/.test(code) ? code : undefined,
    };
    this.exit = info;
    // The leader is gone; whatever it started (the engine behind the shim) goes with it.
    killTree(this.child.pid, 'SIGKILL');
    this.resolveHello(undefined);
    const failure = this.failureFromExit();
    for (const p of this.pending.values()) p.reject(failure);
    this.pending.clear();
    return info;
  }

  /** What the end of the process looks like to a waiting request. */
  failureFromExit(): BridgeFailure {
    const e = this.exit ?? {};
    if (e.spawnCode) return new BridgeFailure('spawn', `could not be started (${e.spawnCode})`, e.spawnCode);
    const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.exitCode ?? 'unknown'}`;
    const last = this.stderrTail.filter((l) => l.trim()).slice(-3);
    return new BridgeFailure('exit', `${how}${last.length ? ` (stderr: ${last.join(' | ')})` : ''}`);
  }

  /** Sends one line and waits for the answer with the same id. */
  request(id: number, line: string, timeoutMs: number, signal?: AbortSignal): Promise<ResponseMessage> {
    if (this.exit) return Promise.reject(this.failureFromExit());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<ResponseMessage>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new BridgeFailure('timeout', `gave no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (m) => {
          cleanup();
          resolve(m);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.stdin.write(line);
    });
  }

  /** Kills at once (a hung bridge); resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.exit) return;
    killTree(this.child.pid, 'SIGKILL');
    await within(this.exited, 5000);
  }

  /**
   * Ends the session: EOF on stdin (the bridge then runs Disconnect-ExchangeOnline and exits), SIGTERM after the
   * grace period, SIGKILL two seconds later.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.exit) return;
    this.stdin.end();
    if (await within(this.exited, graceMs)) return;
    killTree(this.child.pid, 'SIGTERM');
    if (await within(this.exited, 2000)) return;
    killTree(this.child.pid, 'SIGKILL');
    await within(this.exited, 5000);
  }
}
