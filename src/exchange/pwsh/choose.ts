/**
 * `--exchange auto|rest|pwsh`: which backend a run uses. `auto` (the default) takes pwsh when pwsh 7.4+ and
 * ExchangeOnlineManagement 3.x are found, REST otherwise; a forced `pwsh` that cannot run stops the run before any
 * write, with the doctor sentence.
 */
import type { PwshProbe } from './probe.js';

export const EXCHANGE_BACKEND_CHOICES = ['auto', 'rest', 'pwsh'] as const;
export type ExchangeBackendRequest = (typeof EXCHANGE_BACKEND_CHOICES)[number];

export type ExchangeBackendChoice =
  | {
      ok: true;
      backend: 'rest' | 'pwsh';
      requested: ExchangeBackendRequest;
      /** For the output and `--output json`: why this backend. */
      reason: string;
    }
  | {
      ok: false;
      backend: 'pwsh';
      requested: 'pwsh';
      /** The doctor sentence: what is missing and how to install it. Stop with it before any write. */
      reason: string;
    };

/** `probe` is needed for `auto` and `pwsh` (probe once: `PwshExchangeBackend.probe()` or `probePwsh()`). */
export function chooseExchangeBackend(
  requested: ExchangeBackendRequest,
  probe: PwshProbe | undefined,
): ExchangeBackendChoice {
  if (requested === 'rest') return { ok: true, backend: 'rest', requested, reason: '--exchange rest' };
  if (!probe) throw new Error(`chooseExchangeBackend('${requested}') needs the pwsh probe`);
  if (probe.ready)
    return {
      ok: true,
      backend: 'pwsh',
      requested,
      reason: `${requested === 'auto' ? 'auto: ' : ''}PowerShell ${probe.pwsh.version} with ExchangeOnlineManagement ${probe.module.selected}`,
    };
  if (requested === 'pwsh') return { ok: false, backend: 'pwsh', requested, reason: probe.sentence };
  return {
    ok: true,
    backend: 'rest',
    requested,
    reason: `auto: REST, because ${probe.problems.join('; ')} (\`sendasapp doctor\` for the install commands)`,
  };
}
