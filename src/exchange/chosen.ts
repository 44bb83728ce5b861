/**
 * `--exchange auto` (and a forced `pwsh`): the run starts with a backend whose choice is still being made — pwsh
 * is starting and its first line says whether this PowerShell and ExchangeOnlineManagement can run. Calls wait for
 * the choice, then go to pwsh or to REST; a forced pwsh that cannot run fails every call with the doctor sentence
 * (the preflight's check says it once and stops the run before any write).
 */
import { ExchangeError, type CmdletParameters, type ExchangeBackend, type ExchangeCall } from './backend.js';
import type { ExchangeBackendChoice } from './pwsh/index.js';

export class ChosenExchangeBackend implements ExchangeBackend {
  private rest?: ExchangeBackend;

  constructor(
    readonly choice: Promise<ExchangeBackendChoice>,
    private readonly pwsh: ExchangeBackend,
    private readonly makeRest: () => ExchangeBackend,
  ) {
    // An `auto` that falls back to REST ends the pwsh it started at once.
    void choice.then(
      (c) => (c.ok && c.backend === 'rest' ? this.pwsh.close().catch(() => undefined) : undefined),
      () => undefined,
    );
  }

  get name(): ExchangeBackend['name'] {
    return this.rest ? 'rest' : 'pwsh';
  }

  get requestCount(): number {
    return this.pwsh.requestCount + (this.rest?.requestCount ?? 0);
  }

  private async target(cmdlet: string): Promise<ExchangeBackend> {
    const c = await this.choice;
    if (!c.ok) throw new ExchangeError(cmdlet, 'unknown', c.reason);
    if (c.backend === 'pwsh') return this.pwsh;
    this.rest ??= this.makeRest();
    return this.rest;
  }

  async invoke<T = Record<string, unknown>>(cmdlet: string, parameters?: CmdletParameters): Promise<T[]> {
    return (await this.target(cmdlet)).invoke<T>(cmdlet, parameters);
  }

  async invokeMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    const to = await this.target(calls[0]?.cmdlet ?? 'connect');
    if (to.invokeMany) return to.invokeMany(calls);
    const out: Array<unknown[] | ExchangeError> = [];
    for (const c of calls)
      out.push(
        await to.invoke(c.cmdlet, c.parameters).catch((err: unknown) => {
          if (err instanceof ExchangeError) return err;
          throw err;
        }),
      );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([this.pwsh.close().catch(() => undefined), this.rest?.close().catch(() => undefined)]);
  }
}
