/**
 * Reads issued together travel together. Resources each read their own state with `invoke`; when several of them
 * read at the same moment (the runner starts every resource whose dependencies are done at once, and a resource may
 * issue several reads with Promise.all), `coalesceReads` gathers the Get-/Test- calls made in the same turn of the
 * event loop and sends them through the backend's `invokeMany` (REST: one `$batch` per 10 calls). Writes are never
 * held back or batched: they go to `invoke` unchanged, one request each, errors thrown as before.
 *
 * Per backend instance, so per tenant run: no module state.
 */
import { ExchangeError, type CmdletParameters, type ExchangeBackend, type ExchangeCall } from './backend.js';

/** Cmdlets that only read (safe to batch and to run in any order). */
export function isReadCmdlet(cmdlet: string): boolean {
  return /^(get|test)-/i.test(cmdlet.trim());
}

/**
 * Several independent calls through `invokeMany` where the backend has it, else through `invoke` one after
 * another (a pwsh session runs one cmdlet at a time anyway). Each call's rows or its ExchangeError, in order.
 */
export async function invokeAll(
  exo: ExchangeBackend,
  calls: ExchangeCall[],
): Promise<Array<unknown[] | ExchangeError>> {
  if (calls.length === 0) return [];
  if (exo.invokeMany) return exo.invokeMany(calls);
  const out: Array<unknown[] | ExchangeError> = [];
  for (const c of calls) {
    try {
      out.push(await exo.invoke(c.cmdlet, c.parameters));
    } catch (err) {
      if (!(err instanceof ExchangeError)) throw err;
      out.push(err);
    }
  }
  return out;
}

interface Queued {
  call: ExchangeCall;
  resolve(rows: unknown[]): void;
  reject(err: unknown): void;
}

class CoalescingBackend implements ExchangeBackend {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(private readonly inner: ExchangeBackend & Required<Pick<ExchangeBackend, 'invokeMany'>>) {}

  get name(): ExchangeBackend['name'] {
    return this.inner.name;
  }

  get requestCount(): number {
    return this.inner.requestCount;
  }

  invoke<T = Record<string, unknown>>(cmdlet: string, parameters?: CmdletParameters): Promise<T[]> {
    if (!isReadCmdlet(cmdlet)) return this.inner.invoke<T>(cmdlet, parameters);
    return new Promise<T[]>((resolve, reject) => {
      this.queue.push({ call: { cmdlet, parameters }, resolve: resolve as (rows: unknown[]) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current turn's microtasks: every read started "together" is queued by then.
        setImmediate(() => void this.flush());
      }
    });
  }

  async invokeMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    return Promise.all(
      calls.map((c) =>
        this.invoke(c.cmdlet, c.parameters).catch((err: unknown) => {
          if (err instanceof ExchangeError) return err;
          throw err;
        }),
      ),
    );
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      this.inner.invoke(only.call.cmdlet, only.call.parameters).then(only.resolve, only.reject);
      return;
    }
    try {
      const results = await this.inner.invokeMany(batch.map((q) => q.call));
      batch.forEach((q, i) => {
        const r = results[i];
        if (r instanceof ExchangeError) q.reject(r);
        else if (Array.isArray(r)) q.resolve(r);
        else q.reject(new ExchangeError(q.call.cmdlet, 'unknown', 'the batch returned no answer for this call'));
      });
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Wraps a backend so that reads issued together share requests. A backend without `invokeMany` (pwsh) is returned
 * as it is: its calls keep going one by one.
 */
export function coalesceReads(exo: ExchangeBackend): ExchangeBackend {
  if (!exo.invokeMany || exo instanceof CoalescingBackend) return exo;
  return new CoalescingBackend(exo as ExchangeBackend & Required<Pick<ExchangeBackend, 'invokeMany'>>);
}
