/**
 * The emulator's state holder: the world, lookups every service shares, the request log, and persistence
 * (JSON with atomic writes when a state directory is given). One instance per running emulator: no module state.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  type ApplicationRecord,
  type Knobs,
  type Meta,
  type ServiceName,
  type ServicePrincipalRecord,
  type TenantRecord,
  type UserRecord,
  type World,
  defaultKnobs,
  GUID_RE,
} from './state.js';

export interface RequestLogEntry {
  seq: number;
  time: string;
  service: ServiceName | 'control';
  method: string;
  /** Path without query string (queries can carry user input but never secrets; kept out for brevity). */
  path: string;
  cmdlet?: string;
  tenantId?: string;
  /** The calling application (appid claim) or user, when known. */
  caller?: string;
  status: number;
  durationMs: number;
  /** True for requests that change state (POST/PATCH/PUT/DELETE on Graph, Set-/New-/Add-/Remove- cmdlets). */
  write: boolean;
}

export class EmulatorStore {
  world: World;
  readonly log: RequestLogEntry[] = [];
  private seq = 0;
  private readonly callCounts: Record<ServiceName, number> = { token: 0, graph: 0, exchange: 0, smtp: 0, keyvault: 0 };
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly statePath: string | undefined;

  constructor(world: World, stateDir?: string) {
    this.world = world;
    this.statePath = stateDir ? path.join(stateDir, 'state.json') : undefined;
  }

  static load(stateDir: string): World | undefined {
    const file = path.join(stateDir, 'state.json');
    if (!existsSync(file)) return undefined;
    const world = JSON.parse(readFileSync(file, 'utf8')) as World;
    world.knobs = { ...defaultKnobs(), ...world.knobs };
    return world;
  }

  get knobs(): Knobs {
    return this.world.knobs;
  }

  now(): number {
    return Date.now();
  }

  newMeta(): Meta {
    return { createdAtMs: this.now() };
  }

  /** Replication delay: a new object is invisible to reads until it has replicated. */
  isVisible(meta: Meta): boolean {
    return this.now() - meta.createdAtMs >= this.world.knobs.replicationDelayMs;
  }

  /** Whether Exchange Online has caught up with a change made at `atMs` (Entra objects, its own ACEs and RBAC). */
  exchangeSees(atMs: number): boolean {
    const k = this.world.knobs;
    return this.now() - atMs >= (k.exchangeReplicationDelayMs ?? k.replicationDelayMs);
  }

  /** Counts a call to a service and returns its 1-based number (for throttling and injected faults). */
  countCall(service: ServiceName): number {
    this.callCounts[service] += 1;
    return this.callCounts[service];
  }

  resetCallCounts(): void {
    for (const k of Object.keys(this.callCounts) as ServiceName[]) this.callCounts[k] = 0;
  }

  record(entry: Omit<RequestLogEntry, 'seq' | 'time'>): void {
    this.seq += 1;
    this.log.push({ seq: this.seq, time: new Date().toISOString(), ...entry });
    if (this.log.length > 50_000) this.log.splice(0, this.log.length - 50_000);
  }

  // ---- lookups shared by the services ----

  /** Finds a tenant by id (GUID) or by any of its domains, case-insensitively. */
  findTenant(idOrDomain: string): TenantRecord | undefined {
    const key = idOrDomain.toLowerCase();
    if (GUID_RE.test(key)) return this.world.tenants.find((t) => t.id === key);
    return this.world.tenants.find((t) => t.domains.some((d) => d.toLowerCase() === key));
  }

  tenantById(id: string): TenantRecord | undefined {
    return this.world.tenants.find((t) => t.id === id);
  }

  applicationByAppId(appId: string): ApplicationRecord | undefined {
    const key = appId.toLowerCase();
    return this.world.applications.find((a) => a.entity.appId === key);
  }

  applicationsOfTenant(tenantId: string): ApplicationRecord[] {
    return this.world.applications.filter((a) => a.homeTenantId === tenantId);
  }

  servicePrincipalByAppId(tenant: TenantRecord, appId: string): ServicePrincipalRecord | undefined {
    const key = appId.toLowerCase();
    return tenant.servicePrincipals.find((s) => s.entity.appId === key);
  }

  servicePrincipalById(tenant: TenantRecord, id: string): ServicePrincipalRecord | undefined {
    const key = id.toLowerCase();
    return tenant.servicePrincipals.find((s) => s.entity.id === key);
  }

  userById(tenant: TenantRecord, id: string): UserRecord | undefined {
    const key = id.toLowerCase();
    return tenant.users.find((u) => u.entity.id === key);
  }

  /** A user by UPN, primary address, alias, display name, object id or Exchange GUID (Exchange's Identity forms). */
  userByIdentity(tenant: TenantRecord, identity: string): UserRecord | undefined {
    const key = identity.trim().toLowerCase();
    return tenant.users.find(
      (u) =>
        u.entity.id === key ||
        u.entity.userPrincipalName.toLowerCase() === key ||
        u.entity.mail.toLowerCase() === key ||
        u.entity.displayName.toLowerCase() === key ||
        (u.mailbox !== null && (u.mailbox.alias.toLowerCase() === key || u.mailbox.exchangeGuid === key)),
    );
  }

  /**
   * The app role values a client holds in a tenant for a resource (the `roles` claim): from the tenant's app role
   * assignments whose principal is the client's service principal there.
   */
  rolesFor(tenant: TenantRecord, clientAppId: string, resourceAppId: string): string[] {
    const client = this.servicePrincipalByAppId(tenant, clientAppId);
    const resource = this.servicePrincipalByAppId(tenant, resourceAppId);
    if (!client || !resource) return [];
    const roles = new Set<string>();
    for (const a of tenant.appRoleAssignments) {
      if (a.entity.principalId !== client.entity.id || a.entity.resourceId !== resource.entity.id) continue;
      const role = resource.entity.appRoles.find((r) => r.id === a.entity.appRoleId);
      if (role?.value) roles.add(role.value);
    }
    return [...roles].sort();
  }

  // ---- persistence ----

  /** Marks the world changed; with a state directory it is written (atomically) shortly after. */
  changed(): void {
    if (!this.statePath || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.flush();
    }, 20);
    this.saveTimer.unref?.();
  }

  flush(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    if (!this.statePath) return;
    mkdirSync(path.dirname(this.statePath), { recursive: true });
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.world), { mode: 0o600 });
    renameSync(tmp, this.statePath);
  }
}
