/**
 * The credential file's permissions: an existing --secret-out readable by others is made 0600 (shown in the plan,
 * done by apply, whether or not a new credential is written there in this run).
 */
import type { SinkInspection } from '../../handoff/index.js';
import type { TenantContext } from '../context.js';
import type { ManagedNode, Ref } from '../model.js';

export type SinkModeChange = { op: 'tighten'; from: number };

export function sinkModeNode(
  ctx: TenantContext,
  inputs: { sink: Ref<SinkInspection | undefined> },
): ManagedNode<{ mode: number }, typeof inputs, SinkModeChange> {
  return {
    kind: 'managed',
    key: 'sink.mode',
    title: `Permissions of ${ctx.options.secretOut}`,
    inputs,
    async read(_ctx, { sink }) {
      if (!sink?.ok || sink.state === 'absent') return undefined;
      return { mode: sink.looseMode ?? 0o600 };
    },
    diff: (current) => (current && current.mode !== 0o600 ? [{ op: 'tighten', from: current.mode }] : []),
    async apply(ctx) {
      ctx.sink!.tighten();
      return { mode: 0o600 };
    },
    describe: (c) => `make it readable by its owner only: mode ${c.from.toString(8).padStart(4, '0')} → 0600`,
    actionOf: () => 'update',
  };
}
