/**
 * The control endpoint `/_emulator` (operator secret required): request log, state dump, knobs, mailbox store,
 * device-code approval and reset. Used by tests, benchmarks and people rehearsing a run.
 */
import { timingSafeEqual } from 'node:crypto';
import type { EmulatorContext } from './context.js';
import type { EmulatorRequest, EmulatorResponse, HttpService } from './http.js';
import { mergeKnobs } from './knobs.js';
import { defaultKnobs, GUID_RE, type TenantRecord, type World } from './state.js';

function json(status: number, body: unknown): EmulatorResponse {
  return { status, body, headers: { 'Content-Type': 'application/json; charset=utf-8' } };
}

function error(status: number, message: string): EmulatorResponse {
  return json(status, { error: { code: status === 401 ? 'Unauthorized' : 'BadRequest', message } });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A tenant as the control endpoint shows it: everything but secret material. */
export function dumpTenant(ctx: EmulatorContext, t: TenantRecord): unknown {
  return {
    id: t.id,
    displayName: t.displayName,
    domains: t.domains,
    policy: t.policy,
    applications: ctx.store.applicationsOfTenant(t.id).map((a) => ({ ...a.entity, homeTenantId: a.homeTenantId })),
    servicePrincipals: t.servicePrincipals.map((s) => ({ ...s.entity, directoryRoles: s.directoryRoles })),
    appRoleAssignments: t.appRoleAssignments.map((a) => a.entity),
    users: t.users.map((u) => ({ ...u.entity, directoryRoles: u.directoryRoles, mailbox: u.mailbox })),
    groups: t.groups.map((g) => ({ ...g.entity, members: g.members, alias: g.alias })),
    exchange: t.exchange,
    messageCounts: Object.fromEntries(Object.entries(t.messages).map(([k, v]) => [k, v.length])),
    deletedApplications: (ctx.store.world.deletedApplications ?? [])
      .filter((a) => a.homeTenantId === t.id)
      .map((a) => ({ ...a.entity, homeTenantId: a.homeTenantId })),
  };
}

export function createControlService(ctx: EmulatorContext, options: { rebuild?: () => World } = {}): HttpService {
  const { store } = ctx;
  const handle = (req: EmulatorRequest): EmulatorResponse => {
    const key = String(req.headers['x-emulator-key'] ?? '');
    const basic = /^Basic\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
    const basicSecret = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : '';
    const secret = store.world.operator.clientSecret;
    if (!sameSecret(key, secret) && !sameSecret(basicSecret, secret))
      return error(401, 'The control endpoint needs the operator secret in X-Emulator-Key.');
    let body: Record<string, unknown> = {};
    if (req.body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(req.body.toString('utf8'));
      } catch {
        return error(400, 'The body is not valid JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return error(400, 'The body must be a JSON object.');
      body = parsed as Record<string, unknown>;
    }
    const parts = req.path
      .replace(/^\/_emulator\/?/, '')
      .split('/')
      .filter(Boolean);
    const [head, arg, sub] = parts;
    const m = req.method;
    if (head === 'log' && m === 'GET') {
      const since = Number(req.url.searchParams.get('since') ?? 0);
      const service = req.url.searchParams.get('service');
      return json(200, { value: store.log.filter((e) => e.seq > since && (!service || e.service === service)) });
    }
    if (head === 'log' && m === 'DELETE') {
      store.log.length = 0;
      return { status: 204 };
    }
    if (head === 'state' && m === 'GET') {
      if (arg) {
        const t = store.findTenant(arg);
        return t ? json(200, dumpTenant(ctx, t)) : error(404, `No tenant ${arg}.`);
      }
      return json(200, { tenants: store.world.tenants.map((t) => dumpTenant(ctx, t)) });
    }
    if (head === 'knobs' && m === 'GET') return json(200, store.knobs);
    if (head === 'knobs' && (m === 'PATCH' || m === 'PUT')) {
      const next = mergeKnobs(m === 'PUT' ? defaultKnobs() : store.knobs, body);
      if (typeof next === 'string') return error(400, next);
      store.world.knobs = next;
      if (Array.isArray(body.faults)) store.resetCallCounts();
      store.changed();
      return json(200, next);
    }
    if (head === 'tenants' && arg && sub === 'policy' && m === 'PATCH') {
      const t = store.findTenant(arg);
      if (!t) return error(404, `No tenant ${arg}.`);
      const { maxSecretLifetimeDays, securityDefaults } = body;
      if (maxSecretLifetimeDays !== undefined) {
        if (maxSecretLifetimeDays !== null && (typeof maxSecretLifetimeDays !== 'number' || maxSecretLifetimeDays <= 0))
          return error(400, 'maxSecretLifetimeDays must be a positive number or null');
        t.policy.maxSecretLifetimeDays = maxSecretLifetimeDays;
      }
      if (securityDefaults !== undefined) {
        if (typeof securityDefaults !== 'boolean') return error(400, 'securityDefaults must be a boolean');
        t.policy.securityDefaults = securityDefaults;
      }
      store.changed();
      return json(200, t.policy);
    }
    if (head === 'tenants' && arg && sub === 'exchange-service-principals' && m === 'POST') {
      // A registration as Exchange accepted it before it checked object ids against Entra (a legacy one made with
      // the app registration's object id still sits in real tenants): stored as given, no validation.
      const t = store.findTenant(arg);
      if (!t) return error(404, `No tenant ${arg}.`);
      const { appId, objectId, displayName } = body;
      if (typeof appId !== 'string' || !GUID_RE.test(appId) || typeof objectId !== 'string' || !GUID_RE.test(objectId))
        return error(400, 'appId and objectId must be GUIDs');
      if (displayName !== undefined && typeof displayName !== 'string')
        return error(400, 'displayName must be a string');
      if (t.exchange.servicePrincipals.some((s) => s.AppId === appId.toLowerCase()))
        return error(400, `Exchange already has a service principal for app ${appId}.`);
      const sp = {
        Identity: objectId.toLowerCase(),
        AppId: appId.toLowerCase(),
        ObjectId: objectId.toLowerCase(),
        DisplayName: displayName ?? '',
        createdAtMs: 0,
      };
      t.exchange.servicePrincipals.push(sp);
      store.changed();
      return json(201, sp);
    }
    if (head === 'mailboxes' && arg && sub === 'messages' && m === 'GET') {
      const address = arg.toLowerCase();
      const t = store.world.tenants.find((x) => x.users.some((u) => u.entity.mail === address));
      if (!t) return error(404, `No mailbox ${arg}.`);
      return json(200, { value: t.messages[address] ?? [] });
    }
    if (head === 'device-codes' && m === 'GET') {
      return json(200, {
        value: store.world.deviceCodes
          .filter((d) => !d.approvedUserId && !d.declined)
          .map((d) => ({ userCode: d.userCode, clientId: d.clientId, tenant: d.tenantSegment, scope: d.scope })),
      });
    }
    if (head === 'device-codes' && arg === 'approve' && m === 'POST') {
      const code = store.world.deviceCodes.find((d) => d.userCode === body.userCode);
      if (!code) return error(404, 'No pending device code with that userCode.');
      if (body.deny === true) {
        code.declined = true;
        return json(200, { declined: true });
      }
      const upn = String(body.user ?? '').toLowerCase();
      const tenant = store.world.tenants.find((t) => t.users.some((u) => u.entity.userPrincipalName === upn));
      const user = tenant?.users.find((u) => u.entity.userPrincipalName === upn);
      if (!user) return error(404, `No user ${upn}.`);
      code.approvedUserId = user.entity.id;
      return json(200, { approved: true, tenantId: tenant!.id });
    }
    if (head === 'reset' && m === 'POST') {
      if (!options.rebuild) return error(400, 'This emulator cannot be reset.');
      const knobs = store.knobs;
      store.world = options.rebuild();
      store.world.knobs = body.keepKnobs === false ? defaultKnobs() : knobs;
      store.log.length = 0;
      store.resetCallCounts();
      store.changed();
      return { status: 204 };
    }
    return error(404, `No control operation ${m} ${req.path}.`);
  };
  return {
    name: 'control',
    matches: (p) => p === '/_emulator' || p.startsWith('/_emulator/'),
    handle,
    errorResponse: (_req, status) => error(status, 'control endpoint failure'),
  };
}
