/**
 * The credential sink: the one file a new secret or key is written to (mode 0600), with its keyId so that a rerun
 * knows whether the credential it holds is still usable. Before a credential is created the sink records a
 * pending marker; a run killed between "created in Entra" and "written here" leaves the marker behind, and the
 * next run removes the credential it names instead of leaving it orphaned.
 *
 * Writes are safe against a planted file: a temporary file with an unpredictable name is created exclusively in
 * the same directory (O_EXCL | O_NOFOLLOW, mode 0600), written, fsync'ed and renamed over the sink, then the
 * directory is fsync'ed. `inspectSink` is the read-only check a preflight runs before anything is written.
 */
import {
  closeSync,
  fchmodSync,
  constants,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  accessSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';

const secretCredential = z.object({
  type: z.literal('secret'),
  keyId: z.string(),
  secret: z.string(),
  expires: z.string(),
  displayName: z.string(),
  /** A replaced credential (in `previous`): when a run may remove it from Entra (the end of its rotation's grace). */
  retireAfter: z.string().optional(),
});

const certificateCredential = z.object({
  type: z.literal('certificate'),
  keyId: z.string(),
  thumbprint: z.string(),
  certificatePem: z.string(),
  privateKeyPem: z.string(),
  expires: z.string(),
  displayName: z.string(),
  /** A replaced credential (in `previous`): when a run may remove it from Entra (the end of its rotation's grace). */
  retireAfter: z.string().optional(),
});

export const sinkFileSchema = z.object({
  kind: z.literal('sendasapp-credential'),
  tenantId: z.string().optional(),
  clientId: z.string().optional(),
  credential: z.union([secretCredential, certificateCredential]).nullable(),
  /** Display name of a credential being created; cleared once it is written here. */
  pending: z.object({ displayName: z.string(), startedAt: z.string() }).nullable(),
  /**
   * Credentials this file held before its current one that are still valid in Entra (a renewal keeps the old one
   * until it expires): a credential that exists in Entra is never dropped from its sink while alive.
   */
  previous: z.array(z.union([secretCredential, certificateCredential])).optional(),
});

export type SinkFile = z.infer<typeof sinkFileSchema>;
export type StoredCredential = NonNullable<SinkFile['credential']>;

/** Why a sink cannot be used. */
export type SinkProblem =
  | 'symlink'
  | 'directory'
  | 'not-regular-file'
  | 'no-directory'
  | 'directory-not-writable'
  | 'unreadable'
  | 'not-a-credential-file'
  | 'other-app'
  | 'other-tenant'
  // a Key Vault sink's
  | 'vault-not-found'
  | 'vault-forbidden'
  | 'vault-unauthorized'
  | 'vault-unreachable'
  | 'secret-deleted';

/** What a sink holds, without the secret or the key. */
export interface SinkSummary {
  tenantId?: string;
  clientId?: string;
  credential: { type: StoredCredential['type']; keyId: string; expires: string; displayName: string } | null;
  pending: SinkFile['pending'];
  /** The replaced credentials still kept beside it (a rotation's grace, or a renewal's overlap). */
  previous?: Array<{
    type: StoredCredential['type'];
    keyId: string;
    expires: string;
    displayName: string;
    retireAfter?: string;
  }>;
}

export type SinkInspection =
  | {
      ok: true;
      file: string;
      /** absent: no file yet; empty: an empty file; ours: a sendasapp credential file of this app and tenant. */
      state: 'absent' | 'empty' | 'ours';
      /** The permissions of an existing file wider than 0600 (e.g. 0o644); the write makes it 0600: report it. */
      looseMode?: number;
      /** What an existing sink holds (state ours). */
      held?: SinkSummary;
    }
  | { ok: false; file: string; problem: SinkProblem; reason: string; fix: string };

const CHOOSE_ANOTHER = 'or choose another --secret-out';

function refuse(file: string, problem: SinkProblem, reason: string, fix: string): SinkInspection {
  return { ok: false, file, problem, reason, fix };
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

function summaryOf(s: SinkFile): SinkSummary {
  const c = s.credential;
  return {
    ...(s.tenantId ? { tenantId: s.tenantId } : {}),
    ...(s.clientId ? { clientId: s.clientId } : {}),
    credential: c ? { type: c.type, keyId: c.keyId, expires: c.expires, displayName: c.displayName } : null,
    pending: s.pending,
    ...(s.previous?.length
      ? {
          previous: s.previous.map((p) => ({
            type: p.type,
            keyId: p.keyId,
            expires: p.expires,
            displayName: p.displayName,
            ...(p.retireAfter ? { retireAfter: p.retireAfter } : {}),
          })),
        }
      : {}),
  };
}

/** The directory the sink is renamed into must exist and take new files. */
function checkDirectory(file: string, dir: string): SinkInspection | undefined {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR')
      return refuse(file, 'no-directory', `the directory ${dir} does not exist`, `create it, ${CHOOSE_ANOTHER}`);
    return refuse(
      file,
      'directory-not-writable',
      `the directory ${dir} cannot be read (${errno(err)})`,
      CHOOSE_ANOTHER,
    );
  }
  if (!st.isDirectory())
    return refuse(
      file,
      'no-directory',
      `${dir} is not a directory`,
      `give a path inside a directory, ${CHOOSE_ANOTHER}`,
    );
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return refuse(
      file,
      'directory-not-writable',
      `the directory ${dir} is not writable by this user (the sink is written next to it and renamed into place)`,
      `make it writable, ${CHOOSE_ANOTHER}`,
    );
  }
  return undefined;
}

/**
 * Whether `file` can be the credential sink of this run, without creating or changing anything. `tenantId` and
 * `clientId` are those of the run (when known): a sink holding another tenant's or another app's credential is
 * refused, so that one app's secret is never replaced by another's.
 */
export function inspectSink(file: string, expect: { tenantId?: string; clientId?: string } = {}): SinkInspection {
  const target = path.resolve(file);
  let st: Stats;
  try {
    st = lstatSync(target);
  } catch (err) {
    if (errno(err) === 'ENOENT')
      return checkDirectory(file, path.dirname(target)) ?? { ok: true, file, state: 'absent' };
    if (errno(err) === 'ENOTDIR')
      return (
        checkDirectory(file, path.dirname(target)) ??
        refuse(file, 'no-directory', `a part of ${file} is not a directory`, CHOOSE_ANOTHER)
      );
    return refuse(file, 'unreadable', `${file} cannot be examined (${errno(err)})`, CHOOSE_ANOTHER);
  }
  if (st.isSymbolicLink()) {
    let to = '';
    try {
      to = ` to ${readlinkSync(target)}`;
    } catch {
      // the link's target is only for the message
    }
    return refuse(
      file,
      'symlink',
      `${file} is a symbolic link${to}; a credential is never written through a link`,
      `give the real path, ${CHOOSE_ANOTHER}`,
    );
  }
  if (st.isDirectory())
    return refuse(
      file,
      'directory',
      `${file} is a directory`,
      `give a file inside it, e.g. --secret-out ${path.join(file, 'sendasapp-credential.json')}`,
    );
  if (!st.isFile())
    return refuse(
      file,
      'not-regular-file',
      `${file} is not a regular file (a device, pipe or socket); the credential must be kept, not discarded`,
      `give the path of a file, ${CHOOSE_ANOTHER}`,
    );
  const dirProblem = checkDirectory(file, path.dirname(target));
  if (dirProblem) return dirProblem;
  const looseMode = (st.mode & 0o077) !== 0 ? st.mode & 0o777 : undefined;
  const loose = looseMode !== undefined ? { looseMode } : {};
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch (err) {
    return refuse(file, 'unreadable', `${file} cannot be read by this user (${errno(err)})`, CHOOSE_ANOTHER);
  }
  if (text.trim() === '') return { ok: true, file, state: 'empty', ...loose };
  const held = parseSink(text);
  if (!held)
    return refuse(
      file,
      'not-a-credential-file',
      `${file} exists and is not a sendasapp credential file`,
      `move it away, ${CHOOSE_ANOTHER}`,
    );
  const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  if (expect.tenantId && held.tenantId && !same(held.tenantId, expect.tenantId))
    return refuse(
      file,
      'other-tenant',
      `${file} holds a credential for another tenant (${held.tenantId})`,
      `give each tenant its own --secret-out`,
    );
  if (expect.clientId && held.clientId && !same(held.clientId, expect.clientId))
    return refuse(
      file,
      'other-app',
      `${file} holds the credential of another app (client id ${held.clientId})`,
      `give each app its own --secret-out`,
    );
  return { ok: true, file, state: 'ours', held: summaryOf(held), ...loose };
}

function parseSink(text: string): SinkFile | undefined {
  try {
    const r = sinkFileSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** An unpredictable temporary name next to the sink. */
const randomTempName = (base: string): string => `.${base}.${randomBytes(12).toString('hex')}.tmp`;

/** Creates a new file exclusively (never through a planted link or over an existing name), mode 0600. */
function createExclusive(dir: string, base: string, tempName: (base: string) => string): { fd: number; tmp: string } {
  for (let attempt = 0; ; attempt++) {
    const tmp = path.join(dir, tempName(base));
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      return { fd: openSync(tmp, flags, 0o600), tmp };
    } catch (err) {
      if (errno(err) !== 'EEXIST' || attempt >= 4) throw err;
    }
  }
}

/** fsync of a directory, so that the rename survives a crash; some file systems cannot, which is no error. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    fsyncSync(fd);
  } catch (err) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF', 'ENOTSUP'].includes(errno(err) ?? '')) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `file` atomically and durably without ever following a planted link: an exclusive temporary file with an
 * unpredictable name in the same directory (mode 0600 unless `mode` says otherwise), written, fsync'ed, renamed
 * over the target, then the directory fsync'ed. The credential sink and a hand-off that holds a secret use it.
 */
export function writeFileSafely(
  file: string,
  content: string,
  o: { mode?: number; tempName?: (base: string) => string } = {},
): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const { fd, tmp } = createExclusive(dir, path.basename(target), o.tempName ?? randomTempName);
  try {
    try {
      const data = Buffer.from(content, 'utf8');
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off);
      if (o.mode !== undefined && o.mode !== 0o600) fchmodSync(fd, o.mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw err;
  }
  syncDirectory(dir);
}

export interface SinkOptions {
  /** The temporary file's name for a sink named `base` (a seam for tests; default: random). */
  tempName?: (base: string) => string;
}

export class CredentialSink {
  constructor(
    readonly file: string,
    private readonly options: SinkOptions = {},
  ) {}

  /** What the sink holds; undefined when there is no file yet or it is empty. */
  read(): SinkFile | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
    if (text.trim() === '') return undefined;
    const held = parseSink(text);
    if (!held)
      throw new Error(`${this.file} is not a sendasapp credential file; move it away or choose another --secret-out`);
    return held;
  }

  /** Atomic, durable write with mode 0600 (the file never exists with wider permissions). */
  write(content: SinkFile): void {
    writeFileSafely(this.file, JSON.stringify(content, null, 2) + '\n', { tempName: this.options.tempName });
  }

  /** Makes an existing sink readable by its owner only (0600), without following a link. */
  tighten(): void {
    const fd = openSync(path.resolve(this.file), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  }

  /** Records that a credential named `displayName` is being created (see `withPending`). */
  markPending(base: { tenantId?: string; clientId?: string }, displayName: string): void {
    this.write(withPending(this.read(), base, displayName));
  }

  /** Records a new credential (see `withStored`). */
  store(
    base: { tenantId?: string; clientId?: string },
    credential: StoredCredential,
    opts: { retired?: string[]; now?: number } = {},
  ): void {
    this.write(withStored(this.read(), base, credential, opts));
  }

  /** Records when replaced credentials may leave Entra (see `withRetirement`). */
  scheduleRetirement(keyIds: string[], retireAfter: string): void {
    const next = withRetirement(this.read(), keyIds, retireAfter);
    if (next) this.write(next);
  }

  /** Makes a replaced credential the current one again (see `withReinstated`). */
  reinstate(keyId: string): void {
    const next = withReinstated(this.read(), keyId);
    if (next) this.write(next);
  }

  /** Drops replaced credentials from `previous` once they were removed from Entra. */
  forget(keyIds: string[]): void {
    const next = withoutPrevious(this.read(), keyIds);
    if (next) this.write(next);
  }

  readonly kind = 'file' as const;

  /** The preflight's read-only check of this file (`inspectSink`). */
  inspect(expect: { tenantId?: string; clientId?: string } = {}): SinkInspection {
    return inspectSink(this.file, expect);
  }
}

/** The sink's record marking that a credential named `displayName` is being created; the one held so far is kept. */
export function withPending(
  held: SinkFile | undefined,
  base: { tenantId?: string; clientId?: string },
  displayName: string,
): SinkFile {
  return {
    kind: 'sendasapp-credential',
    ...base,
    credential: held?.credential ?? null,
    pending: { displayName, startedAt: new Date().toISOString() },
    ...(held?.previous?.length ? { previous: held.previous } : {}),
  };
}

/**
 * The sink's record holding a new credential. The one held so far moves to `previous` while it is alive (unless
 * `retired` names it: it was removed from Entra), and expired or retired ones leave the record.
 */
export function withStored(
  held: SinkFile | undefined,
  base: { tenantId?: string; clientId?: string },
  credential: StoredCredential,
  opts: { retired?: string[]; now?: number } = {},
): SinkFile {
  const now = opts.now ?? Date.now();
  const alive = (c: StoredCredential): boolean =>
    Date.parse(c.expires) > now && !(opts.retired ?? []).includes(c.keyId) && c.keyId !== credential.keyId;
  const previous = [...(held?.credential ? [held.credential] : []), ...(held?.previous ?? [])].filter(alive);
  return {
    kind: 'sendasapp-credential',
    ...base,
    credential,
    pending: null,
    ...(previous.length > 0 ? { previous } : {}),
  };
}

/**
 * The sink's record with the end of a rotation's grace on replaced credentials (in `previous`): a later run (apply
 * or rotate) whose clock has passed it removes them. The current credential is never marked. Undefined: no change.
 */
export function withRetirement(
  held: SinkFile | undefined,
  keyIds: string[],
  retireAfter: string,
): SinkFile | undefined {
  return editPrevious(held, (p) => (keyIds.includes(p.keyId) ? { ...p, retireAfter } : p));
}

/**
 * The record with a replaced credential (in `previous`) made the current one again, the current one moving to
 * `previous`: a rotation whose new credential did not pass the proof, so that what reads the sink keeps the one
 * that worked. Undefined: no change.
 */
export function withReinstated(held: SinkFile | undefined, keyId: string): SinkFile | undefined {
  const back = held?.previous?.find((p) => p.keyId === keyId);
  if (!held?.credential || !back) return undefined;
  return { ...held, credential: back, previous: [held.credential, ...held.previous!.filter((p) => p.keyId !== keyId)] };
}

/** The record without these replaced credentials (removed from Entra). Undefined: no change. */
export function withoutPrevious(held: SinkFile | undefined, keyIds: string[]): SinkFile | undefined {
  return editPrevious(held, (p) => (keyIds.includes(p.keyId) ? undefined : p));
}

function editPrevious(
  held: SinkFile | undefined,
  f: (p: StoredCredential) => StoredCredential | undefined,
): SinkFile | undefined {
  if (!held?.previous?.length) return undefined;
  const previous = held.previous.map(f).filter((p): p is StoredCredential => p !== undefined);
  const { previous: _old, ...rest } = held;
  return { ...rest, ...(previous.length > 0 ? { previous } : {}) };
}

/**
 * The hand-offs whose sending system reads the --secret-out file itself at each use (they name the file, not the
 * value): `env` (OAUTH_CLIENT_SECRET_FILE / OAUTH_CLIENT_CREDENTIAL_FILE) and `json` (`credential.file`), unless
 * `--include-secret` put the value into the hand-off. After a rotation those systems have the new credential as
 * soon as the sink holds it; every other target (Business Central, enaio, Xeams, Postfix's token file) has a
 * person or a file that must be updated first.
 */
export const SINK_READING_TARGETS: readonly string[] = ['env', 'json'];

export function targetReadsSink(target: string | undefined, includeSecret: boolean | undefined): boolean {
  return target !== undefined && SINK_READING_TARGETS.includes(target) && !includeSecret;
}

/**
 * What a run needs of a credential sink, whichever kind it is: a file (CredentialSink) or a secret in Azure Key
 * Vault (KeyVaultSink). `inspect` is the preflight's read-only check (a Key Vault sink loads what it holds there, so
 * that `read` answers from it); the writes of a Key Vault sink are network calls: await them.
 */
export interface Sink {
  readonly kind: 'file' | 'keyvault';
  /** Where the credential is kept, for people: the file's path, or the vault URI as given. */
  readonly file: string;
  inspect(expect?: { tenantId?: string; clientId?: string }): SinkInspection | Promise<SinkInspection>;
  read(): SinkFile | undefined;
  markPending(base: { tenantId?: string; clientId?: string }, displayName: string): void | Promise<void>;
  store(
    base: { tenantId?: string; clientId?: string },
    credential: StoredCredential,
    opts?: { retired?: string[]; now?: number },
  ): void | Promise<void>;
  /** Owner-only permissions (a file); nothing for a vault secret, whose access is the vault's. */
  tighten(): void;
  /** Rotation: the end of the grace of replaced credentials (`withRetirement`). */
  scheduleRetirement(keyIds: string[], retireAfter: string): void | Promise<void>;
  /** Rotation: a replaced credential made current again after a failed proof (`withReinstated`). */
  reinstate(keyId: string): void | Promise<void>;
  /** Rotation and pruning: replaced credentials removed from Entra (`withoutPrevious`). */
  forget(keyIds: string[]): void | Promise<void>;
}
