/**
 * Rotation: the one mechanism by which a credential of ours is replaced — `sendasapp rotate` (now), and `apply`
 * when the credential ends within `--rotate-within` (default: its last 14 days, or the last third of a shorter
 * lifetime). The credential node adds the new credential while the old stays valid and writes the new one to the
 * sink with the old kept beside it (`previous`); the run proves the NEW one with an XOAUTH2 login and re-renders the
 * hand-off; then `finishRotation` retires the old one — at once when the proof passed and the grace is 0 (the default
 * when the --target reads the --secret-out file itself), otherwise by recording the end of the grace in the sink
 * (`retireAfter`), which the credential node of a later `apply` or `rotate` carries out. A proof that did not pass
 * retires nothing.
 */
import type { Application } from '../entra/index.js';
import { removeCertificates, removeSecret } from '../entra/index.js';
import { targetReadsSink } from '../handoff/index.js';
import type { RunOptions, TenantContext } from './context.js';
import type { VerificationReport } from './verify.js';

const DAY_MS = 86_400_000;
/** Without --rotate-within: a credential is rotated in its last 14 days (or the last third of a shorter life). */
export const ROTATE_BEFORE_MS = 14 * DAY_MS;
/** Without --grace, when a person or a copied file has to take the new credential: it has a week. */
export const DEFAULT_GRACE_MS = 7 * DAY_MS;
const DEFAULT_GRACE_TEXT = '7d';

/** How long before its end a credential is rotated, and the words for it. */
export function rotateWindow(o: RunOptions): { ms: number; text: string } {
  if (o.rotateWithin) return { ms: o.rotateWithin.ms, text: `--rotate-within ${o.rotateWithin.text}` };
  // A short lifetime would otherwise be inside the window at once, and every run would rotate.
  const third = o.secretLifetime.ms / 3;
  if (third < ROTATE_BEFORE_MS)
    return { ms: third, text: `the last third of --secret-lifetime ${o.secretLifetime.text}` };
  return { ms: ROTATE_BEFORE_MS, text: 'its last 14 days (--rotate-within)' };
}

export interface GracePlan {
  /** Retire right after a passed proof. */
  atOnce: boolean;
  /** The grace when not at once (also after a skipped proof). */
  ms: number;
  /** The hand-off reads the --secret-out file itself (env, json without --include-secret). */
  readsSink: boolean;
  /** For people: "at once after the proof (...)", "7d after the rotation (...)". */
  text: string;
}

/** When the replaced credential leaves Entra: --grace, or the default of the target. */
export function gracePlan(o: RunOptions): GracePlan {
  const readsSink = targetReadsSink(o.target, o.includeSecret);
  if (o.grace)
    return {
      atOnce: o.grace.ms === 0,
      ms: o.grace.ms,
      readsSink,
      text: o.grace.ms === 0 ? 'at once after the proof (--grace 0)' : `${o.grace.text} after the proof (--grace)`,
    };
  if (readsSink)
    return {
      atOnce: true,
      ms: DEFAULT_GRACE_MS,
      readsSink,
      text: `at once after the proof (--target ${o.target} reads ${o.secretOut ?? 'the --secret-out file'} itself)`,
    };
  return {
    atOnce: false,
    ms: DEFAULT_GRACE_MS,
    readsSink,
    text: `${DEFAULT_GRACE_TEXT} after the proof, by the first apply or rotate after that (${o.target ? `--target ${o.target} needs the new credential copied` : 'no --target that reads the --secret-out file'}; --grace to change)`,
  };
}

/** What became of the replaced credential(s), in the JSON result as `rotation`. */
export interface RotationReport {
  /** retired: removed from Entra; scheduled: removed by a run after `retireAfter`; kept: still valid, no date. */
  status: 'retired' | 'scheduled' | 'kept';
  /** The credential(s) replaced (the one this run replaced first). */
  old: Array<{ keyId: string; expires: string }>;
  new: { keyId?: string; expires?: string };
  /** Why this run rotated: `sendasapp rotate`, or the end within the window. */
  why: string;
  proof: VerificationReport['status'];
  grace: string;
  retireAfter?: string;
  readsSink: boolean;
  /** For people: what happened and what to do. */
  message: string;
}

/** What the credential node tells the rotation: the one it replaced, and the new one. */
export interface Rotated {
  type: 'secret' | 'certificate';
  replaced: { keyId: string; expires: string; why: string };
  keyId?: string;
  expires?: string;
}

/**
 * The rotation's second half, after the proof and the hand-off: retire the replaced credentials (the one this run
 * replaced, and any earlier one the sink still keeps without a date: a rotation whose proof did not pass), or
 * record when they may go. Nothing when this run did not rotate.
 */
export async function finishRotation(
  ctx: TenantContext,
  app: Application | undefined,
  rotated: Rotated | undefined,
  verification: VerificationReport | undefined,
): Promise<RotationReport | undefined> {
  if (!rotated || !app) return undefined;
  const o = ctx.options;
  const grace = gracePlan(o);
  const proof = verification?.status ?? 'skipped';
  const inEntra = new Set(
    (rotated.type === 'secret' ? app.passwordCredentials : app.keyCredentials).map((c) => c.keyId.toLowerCase()),
  );
  const file = ctx.sink?.read();
  const waiting = (file?.previous ?? []).filter(
    (p) =>
      p.type === rotated.type &&
      !p.retireAfter &&
      p.keyId !== file?.credential?.keyId &&
      inEntra.has(p.keyId.toLowerCase()),
  );
  const old = [
    { keyId: rotated.replaced.keyId, expires: rotated.replaced.expires },
    ...waiting.filter((p) => p.keyId !== rotated.replaced.keyId).map((p) => ({ keyId: p.keyId, expires: p.expires })),
  ];
  const keyIds = old.map((x) => x.keyId);
  const base = {
    old,
    new: { keyId: rotated.keyId, expires: rotated.expires },
    why: rotated.replaced.why,
    proof,
    grace: grace.text,
    readsSink: grace.readsSink,
  };
  const kind = rotated.type === 'secret' ? 'secret' : 'certificate';
  const names = keyIds.join(', ');
  // A failed proof, or one that could not run: the old one is what still works. Only a run that cannot prove by
  // design (--verify none, the operator's choice; delegated SMTP, where a user signs in) lets the grace start without.
  const unprovable = o.verify === 'none' || o.flow === 'delegated';
  if (proof === 'failed' || (proof === 'skipped' && !unprovable)) {
    // What reads the sink keeps the one that worked: the old one is its credential again, the new one beside it.
    if (file?.credential?.keyId === rotated.keyId) await ctx.sink?.reinstate(rotated.replaced.keyId);
    return {
      ...base,
      status: 'kept',
      message: `the new ${kind} did not pass the XOAUTH2 proof, so the old ${kind} ${names} stays valid in Entra and is again the credential of ${ctx.sink?.file ?? 'the sink'} (the new one beside it under previous); fix what the proof says, then rerun \`sendasapp rotate\` (it retires every replaced one once a new one passes)`,
    };
  }
  if (grace.atOnce && proof === 'passed') {
    try {
      if (rotated.type === 'secret') for (const k of keyIds) await removeSecret(ctx.homeGraph, app.id, k);
      else await removeCertificates(ctx.homeGraph, app, keyIds);
    } catch (err) {
      // Recorded as due now: the next apply or rotate removes it.
      const now = new Date().toISOString();
      await ctx.sink?.scheduleRetirement(keyIds, now);
      return {
        ...base,
        status: 'scheduled',
        retireAfter: now,
        message: `the new ${kind} passed the proof, but removing the old ${kind} ${names} failed (${(err as Error).message}); the next apply or rotate removes it`,
      };
    }
    await ctx.sink?.forget(keyIds);
    return { ...base, status: 'retired', message: `the old ${kind} ${names} was removed from Entra (${grace.text})` };
  }
  const retireAfter = new Date(Date.now() + (grace.atOnce ? 0 : grace.ms)).toISOString();
  await ctx.sink?.scheduleRetirement(keyIds, retireAfter);
  return {
    ...base,
    status: 'scheduled',
    retireAfter,
    message: `the old ${kind} ${names} stays valid until ${retireAfter}; the first apply or rotate after that removes it from Entra${proof === 'skipped' ? ' (not proven: no XOAUTH2 login in this run)' : ''}`,
  };
}
