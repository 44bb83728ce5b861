/**
 * Deleting a sink's secret on teardown (`sendasapp destroy --delete-secret`): one removal per sink kind, so that
 * another kind (a Key Vault secret) plugs in beside the file. A sink is only removed when it holds this app's
 * credential: a file of another app, or one that is not a sendasapp credential file, is left alone.
 */
import { rmSync } from 'node:fs';
import type { KeyVaultSink } from './keyvault-sink.js';
import { inspectSink, type Sink } from './sink.js';

export interface SecretRemoval {
  kind: string;
  /** The sink's address for people (a path, a vault secret's URL): never its value. */
  location: string;
  /** present: it holds this app's credential; absent: nothing there; foreign: it holds something else (kept). */
  state(): Promise<{ state: 'present' | 'absent' | 'foreign'; reason?: string }>;
  remove(): Promise<void>;
}

export interface SecretRemovalTarget {
  /** The sink's address as given (--secret-out) or recorded. */
  location: string;
  tenantId?: string;
  clientId?: string;
  /** The run's open sink (a Key Vault sink needs the run's credential and cloud profile). */
  sink?: Sink;
}

/** The credential file sink: removed when it is a sendasapp credential file of this app. */
export function fileSecretRemoval(target: SecretRemovalTarget): SecretRemoval {
  const file = target.location;
  return {
    kind: 'file',
    location: file,
    async state() {
      const s = inspectSink(file, { clientId: target.clientId });
      if (s.ok && s.state === 'absent') return { state: 'absent' };
      if (s.ok && s.state === 'ours' && s.held?.clientId) return { state: 'present' };
      return { state: 'foreign', reason: s.ok ? 'it holds no credential of this app' : s.reason };
    },
    async remove() {
      rmSync(file, { force: true });
    },
  };
}

/**
 * A Key Vault secret: deleted (soft delete; the vault keeps it for its retention days) when it holds this app's
 * credential. It needs the run's open sink (the same `--secret-out`), which the preflight has inspected.
 */
export function keyVaultSecretRemoval(target: SecretRemovalTarget): SecretRemoval {
  const sink = target.sink?.kind === 'keyvault' && target.sink.file === target.location ? target.sink : undefined;
  return {
    kind: 'keyvault',
    location: target.location,
    async state() {
      if (!sink) return { state: 'foreign', reason: `give --secret-out ${target.location} to delete it` };
      const s = await sink.inspect({ clientId: target.clientId, tenantId: target.tenantId });
      if (s.ok && s.state === 'absent') return { state: 'absent' };
      if (s.ok && s.state === 'ours' && s.held?.clientId) return { state: 'present' };
      return { state: 'foreign', reason: s.ok ? 'it holds no credential of this app' : s.reason };
    },
    async remove() {
      await (sink as KeyVaultSink).remove();
    },
  };
}

/** The removal of each sink kind that can be deleted (a kind without one is reported, never guessed). */
export const SECRET_REMOVALS: Record<string, ((t: SecretRemovalTarget) => SecretRemoval) | undefined> = {
  file: fileSecretRemoval,
  keyvault: keyVaultSecretRemoval,
};
