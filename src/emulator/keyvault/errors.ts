/**
 * Key Vault's error answers: `{"error":{"code","message","innererror"?:{"code"}}}` with the codes and texts the
 * service uses (AKV100xx for token problems, ForbiddenByRbac for a caller without a role, BadParameter for names).
 */
import type { EmulatorResponse } from '../http.js';

/** A Key Vault error raised anywhere in a handler; the service turns it into the answer. */
export class VaultFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function failureResponse(f: VaultFailure): EmulatorResponse {
  return {
    status: f.status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...(f.headers ?? {}) },
    body: {
      error: { code: f.code, message: f.message, ...(f.innerCode ? { innererror: { code: f.innerCode } } : {}) },
    },
  };
}

export const vaultErrors = {
  unauthorized: (message: string, challenge: string): VaultFailure =>
    new VaultFailure(401, 'Unauthorized', message, undefined, { 'WWW-Authenticate': challenge }),
  forbiddenByRbac: (o: {
    appId: string;
    objectId: string;
    tenantId: string;
    action: string;
    resource: string;
    vault: string;
    location: string;
  }): VaultFailure =>
    new VaultFailure(
      403,
      'Forbidden',
      [
        'Caller is not authorized to perform action on resource.',
        'If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.',
        `Caller: appid=${o.appId};oid=${o.objectId};iss=https://sts.windows.net/${o.tenantId}/`,
        `Action: '${o.action}'`,
        `Resource: '${o.resource}'`,
        'Assignment: (not found)',
        'DenyAssignmentId: null',
        "DecisionReason: 'DeniedWithNoValidRBAC' ",
        `Vault: ${o.vault};location=${o.location}`,
        '',
      ].join('\r\n'),
      'ForbiddenByRbac',
    ),
  badName: (name: string): VaultFailure =>
    new VaultFailure(400, 'BadParameter', `The request URI contains an invalid name: ${name}`),
  badParameter: (message: string): VaultFailure => new VaultFailure(400, 'BadParameter', message),
  secretNotFound: (name: string, version?: string): VaultFailure =>
    new VaultFailure(
      404,
      'SecretNotFound',
      version
        ? `A secret with (name/id) ${name}/${version} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`
        : `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    ),
  deletedSecretNotFound: (name: string): VaultFailure =>
    new VaultFailure(404, 'SecretNotFound', `Deleted Secret not found: ${name}`),
  deletedButRecoverable: (name: string): VaultFailure =>
    new VaultFailure(
      409,
      'Conflict',
      `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
      'ObjectIsDeletedButRecoverable',
    ),
  beingDeleted: (name: string): VaultFailure =>
    new VaultFailure(409, 'Conflict', `Secret ${name} is currently being deleted.`, 'ObjectIsBeingDeleted'),
  disabled: (): VaultFailure =>
    new VaultFailure(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled'),
  purgeProtected: (name: string): VaultFailure =>
    new VaultFailure(
      403,
      'Forbidden',
      `Operation "purge" is not allowed for secret ${name} because purge protection is enabled for this vault.`,
    ),
  methodNotAllowed: (): VaultFailure =>
    new VaultFailure(405, 'BadParameter', 'The requested resource does not support this HTTP method.'),
};

/** The service's own answer for throttling, an injected 503 or a failure of the emulator (500). */
export function vaultErrorResponse(status: 429 | 500 | 503): EmulatorResponse {
  if (status === 429)
    return failureResponse(
      new VaultFailure(429, 'Throttled', 'Request was not processed because too many requests were received.'),
    );
  if (status === 503)
    return failureResponse(
      new VaultFailure(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.'),
    );
  return failureResponse(new VaultFailure(500, 'InternalServerError', 'An internal server error occurred.'));
}
