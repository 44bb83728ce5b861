/**
 * Which way Exchange authorizes the app (`mailboxAccess`) when the configuration does not say: rbac for a new app
 * (Microsoft's recommendation since Nov 2025, m365-facts §8); an existing app keeps the mode it was made with, read
 * from the tenant — its "Application SMTP.SendAsApp" role assignment (rbac), FullAccess grants (full-access) or
 * SendAs grants (send-as) of its service principal, else its API permission SMTP.SendAsApp (full-access).
 *
 * The reads of the detection are kept and answer the same reads of the run's preflight once (`PrimedExchange`),
 * so that a rerun pays only for the application's lookup twice.
 */
import { EXCHANGE_ONLINE_APP_ID, type GraphApi } from '../entra/index.js';
import {
  ExchangeError,
  isReadCmdlet,
  readExchangeServicePrincipal,
  readSmtpAuth,
  type CmdletParameters,
  type ExchangeBackend,
  type ExchangeCall,
} from '../exchange/index.js';
import type { TenantContext } from './context.js';
import { explainError } from './errors.js';
import { CheckFailure } from './model.js';
import {
  applicationNode,
  EMPTY_INVENTORY,
  readAccessInventory,
  type AccessInventory,
  type AccessMode,
  type AppState,
} from './nodes/index.js';

export interface MailboxAccessChoice {
  mode: AccessMode;
  /** For people and the JSON result: why this mode. */
  reason: string;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The mode an app keeps (pure): from what its service principal holds, and what the app asks for. */
export function chooseAccessMode(app: AppState | undefined, inv: AccessInventory): MailboxAccessChoice {
  if (!app)
    return {
      mode: 'rbac',
      reason: 'a new app: rbac is the default for new setups (no API permission, a management scope)',
    };
  const held = [
    inv.fullAccess.length > 0
      ? `FullAccess on ${plural(inv.fullAccess.length, 'mailbox')}`.replace(/mailboxs/, 'mailboxes')
      : '',
    inv.sendAs.length > 0 ? `SendAs on ${plural(inv.sendAs.length, 'mailbox')}`.replace(/mailboxs/, 'mailboxes') : '',
  ].filter(Boolean);
  if (inv.roleAssignments.length > 0)
    return {
      mode: 'rbac',
      reason: `the app holds the role assignment ${inv.roleAssignments[0]!.Name} ("Application SMTP.SendAsApp")${held.length > 0 ? ` and still ${held.join(' and ')} (a migration to rbac that did not finish)` : ''}`,
    };
  if (inv.fullAccess.length > 0)
    return {
      mode: 'full-access',
      reason: `the app's service principal holds ${held.join(' and ')}: it was made with full-access`,
    };
  if (inv.sendAs.length > 0)
    return { mode: 'send-as', reason: `the app's service principal holds ${held[0]}: it was made with send-as` };
  const asks = (app.app?.requiredResourceAccess ?? []).some(
    (r) => r.resourceAppId.toLowerCase() === EXCHANGE_ONLINE_APP_ID && r.resourceAccess.some((a) => a.type === 'Role'),
  );
  if (asks)
    return {
      mode: 'full-access',
      reason:
        'the app asks for the API permission SMTP.SendAsApp and holds no mailbox access yet: it was made for full-access',
    };
  return { mode: 'rbac', reason: 'the app holds no mailbox access yet: rbac is the default for new setups' };
}

/** The mode given by the configuration, as a choice. */
export function givenAccessMode(mode: AccessMode): MailboxAccessChoice {
  return { mode, reason: 'given (--mailbox-access, SENDASAPP_MAILBOX_ACCESS or the config file)' };
}

function callKey(cmdlet: string, parameters: CmdletParameters | undefined): string {
  const p = parameters ?? {};
  const sorted = Object.fromEntries(
    Object.keys(p)
      .sort()
      .map((k) => [k.toLowerCase(), p[k]]),
  );
  return `${cmdlet.toLowerCase()} ${JSON.stringify(sorted)}`;
}

/**
 * An Exchange backend that answers reads made earlier in the same run once, from what they answered then; every
 * other call (and every read after `forget`) goes to the backend it wraps. `record` keeps the reads it passes on.
 */
export class PrimedExchange implements ExchangeBackend {
  private readonly reads = new Map<string, Promise<unknown[]>>();
  private recording = true;

  constructor(private readonly inner: ExchangeBackend) {}

  get name(): ExchangeBackend['name'] {
    return this.inner.name;
  }

  get requestCount(): number {
    return this.inner.requestCount;
  }

  /** From now on, reads are answered from what was recorded (once each), no longer recorded. */
  prime(): void {
    this.recording = false;
  }

  /** Drops what was recorded: after the preflight, every read goes to Exchange. */
  forget(): void {
    this.reads.clear();
  }

  invoke<T = Record<string, unknown>>(cmdlet: string, parameters?: CmdletParameters): Promise<T[]> {
    if (!isReadCmdlet(cmdlet)) return this.inner.invoke<T>(cmdlet, parameters);
    const key = callKey(cmdlet, parameters);
    if (this.recording) {
      const p = this.inner.invoke<T>(cmdlet, parameters);
      this.reads.set(key, p as Promise<unknown[]>);
      return p;
    }
    const kept = this.reads.get(key);
    if (kept) {
      this.reads.delete(key);
      return kept as Promise<T[]>;
    }
    return this.inner.invoke<T>(cmdlet, parameters);
  }

  async invokeMany(calls: ExchangeCall[]): Promise<Array<unknown[] | ExchangeError>> {
    const one = (c: ExchangeCall): Promise<unknown[] | ExchangeError> =>
      this.invoke(c.cmdlet, c.parameters).catch((err: unknown) => {
        if (err instanceof ExchangeError) return err;
        throw err;
      });
    // Together where the backend batches (REST); one after another where it runs one cmdlet at a time (pwsh).
    if (this.inner.invokeMany) return Promise.all(calls.map(one));
    const out: Array<unknown[] | ExchangeError> = [];
    for (const c of calls) out.push(await one(c));
    return out;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A Graph client whose `find` answers a lookup made during the detection once more from memory (the application by
 * its key), so that an unset mode costs no second Graph request. Every other call goes to the client as it is.
 */
export function primedGraph(graph: GraphApi): { graph: GraphApi; prime(): void; forget(): void } {
  const reads = new Map<string, Promise<unknown>>();
  let recording = true;
  const find = (path: string): Promise<unknown> => {
    if (recording) {
      const p = graph.find(path);
      reads.set(path, p);
      return p;
    }
    const kept = reads.get(path);
    if (!kept) return graph.find(path);
    reads.delete(path);
    return kept;
  };
  const proxy = new Proxy(graph, {
    get(target, prop) {
      if (prop === 'find') return find;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    graph: proxy,
    prime: () => void (recording = false),
    forget: () => reads.clear(),
  };
}

/**
 * The run's context with `mailboxAccess` resolved: as given, or (unset) read from the tenant. Its Exchange and
 * home Graph clients answer the detection's reads once more from memory; call `forget()` after the preflight.
 */
export async function resolveAccessMode(
  ctx: TenantContext,
): Promise<{ ctx: TenantContext; choice: MailboxAccessChoice; forget?: () => void }> {
  const setting = ctx.options.mailboxAccess;
  if (setting !== 'unset') return { ctx, choice: givenAccessMode(setting) };
  const exchange = new PrimedExchange(ctx.exchange);
  const home = primedGraph(ctx.homeGraph);
  const detecting: TenantContext = { ...ctx, exchange, homeGraph: home.graph };
  let choice: MailboxAccessChoice;
  try {
    const node = applicationNode(detecting, { inputs: {}, title: 'application', wants: () => ({ access: [] }) });
    const app = await node.read(detecting, {});
    const sp = app ? await readExchangeServicePrincipal(exchange, app.appId) : undefined;
    // The preflight's own SMTP AUTH reads of the listed mailboxes travel in the inventory's first round (the same
    // turn, so one $batch), and are answered from memory when the run's mailboxes node asks for them.
    if (!ctx.options.group) void readSmtpAuth(exchange, [...ctx.options.mailboxes]).catch(() => undefined);
    const inventory = app && sp ? await readAccessInventory(detecting, app, sp, 'unset') : EMPTY_INVENTORY;
    choice = chooseAccessMode(app, inventory);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // Any failure but a rule of the input (which the run's own node meets again and explains): guessing a mode
    // could plan a migration nobody asked for, so the run stops here, before any write.
    if (!(err instanceof CheckFailure))
      throw new Error(
        `the app's mailbox access could not be read from the tenant, so its mode is not known (give --mailbox-access to say it): ${explainError(err)}`,
      );
    choice = { mode: 'rbac', reason: 'not read: the app under our key did not pass the preflight' };
  }
  exchange.prime();
  home.prime();
  const forget = (): void => {
    exchange.forget();
    home.forget();
  };
  const mailboxGraph = ctx.mailboxGraph === ctx.homeGraph ? home.graph : ctx.mailboxGraph;
  return {
    ctx: {
      ...ctx,
      exchange,
      homeGraph: home.graph,
      mailboxGraph,
      options: { ...ctx.options, mailboxAccess: choice.mode },
    },
    choice,
    forget,
  };
}
