/**
 * The `{tenant}` segment of login.microsoftonline.com paths: a GUID, a verified domain, or one of the multi-tenant
 * aliases `common`, `organizations` and `consumers`.
 */
import type { EmulatorStore } from '../store.js';
import { GUID_RE, type TenantRecord } from '../state.js';
import { errors, type AadError } from './errors.js';

export type TenantAlias = 'common' | 'organizations' | 'consumers';

export type ResolvedTenant =
  { kind: 'tenant'; tenant: TenantRecord; segment: string } | { kind: 'alias'; alias: TenantAlias; segment: string };

const ALIASES: readonly string[] = ['common', 'organizations', 'consumers'];
const DNS_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** Resolves a tenant segment, or gives the error Entra answers for it (AADSTS90002 / AADSTS900023). */
export function resolveTenant(store: EmulatorStore, segment: string): ResolvedTenant | AadError {
  const key = segment.toLowerCase();
  if (ALIASES.includes(key)) return { kind: 'alias', alias: key as TenantAlias, segment: key };
  if (!GUID_RE.test(key) && !DNS_RE.test(key)) return errors.tenantInvalid(segment);
  const tenant = store.findTenant(key);
  if (!tenant) return errors.tenantNotFound(segment);
  return { kind: 'tenant', tenant, segment };
}

export function isAadError(x: unknown): x is AadError {
  return typeof x === 'object' && x !== null && 'code' in x && 'error' in x && 'status' in x;
}
