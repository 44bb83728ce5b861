/**
 * The credential sink: the one file a new secret or key is written to (mode 0600), with its keyId so that a rerun
 * knows whether the credential it holds is still usable. Before a credential is created the sink records a
 * pending marker; a run killed between "created in Entra" and "written here" leaves the marker behind, and the
 * next run removes the credential it names instead of leaving it orphaned.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const secretCredential = z.object({
  type: z.literal('secret'),
  keyId: z.string(),
  secret: z.string(),
  expires: z.string(),
  displayName: z.string(),
});

const certificateCredential = z.object({
  type: z.literal('certificate'),
  keyId: z.string(),
  thumbprint: z.string(),
  certificatePem: z.string(),
  privateKeyPem: z.string(),
  expires: z.string(),
  displayName: z.string(),
});

export const sinkFileSchema = z.object({
  kind: z.literal('sendasapp-credential'),
  tenantId: z.string().optional(),
  clientId: z.string().optional(),
  credential: z.union([secretCredential, certificateCredential]).nullable(),
  /** Display name of a credential being created; cleared once it is written here. */
  pending: z.object({ displayName: z.string(), startedAt: z.string() }).nullable(),
});

export type SinkFile = z.infer<typeof sinkFileSchema>;
export type StoredCredential = NonNullable<SinkFile['credential']>;

export class CredentialSink {
  constructor(readonly file: string) {}

  read(): SinkFile | undefined {
    if (!existsSync(this.file)) return undefined;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      throw new Error(
        `${this.file} is not a sendasapp credential file (not JSON); move it away or choose another --secret-out`,
      );
    }
    const r = sinkFileSchema.safeParse(data);
    if (!r.success)
      throw new Error(`${this.file} is not a sendasapp credential file; move it away or choose another --secret-out`);
    return r.data;
  }

  /** Atomic write with mode 0600 (the file never exists with wider permissions). */
  write(content: SinkFile): void {
    mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  /** Records that a credential named `displayName` is being created; the credential held so far is kept. */
  markPending(base: { tenantId?: string; clientId?: string }, displayName: string): void {
    const credential = this.read()?.credential ?? null;
    this.write({
      kind: 'sendasapp-credential',
      ...base,
      credential,
      pending: { displayName, startedAt: new Date().toISOString() },
    });
  }

  store(base: { tenantId?: string; clientId?: string }, credential: StoredCredential): void {
    this.write({ kind: 'sendasapp-credential', ...base, credential, pending: null });
  }
}
