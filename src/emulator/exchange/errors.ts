/**
 * Exchange Online admin API errors as they travel on the wire, and a typed description of their categories.
 *
 * Shapes (all observed on outlook.office365.com/adminapi, see the references beside each builder):
 * - a cmdlet that ran and failed: `error.message` "Error executing cmdlet", the cmdlet's own text in
 *   `error.details[0].message` as `<ErrorId>|<ExceptionType>|<text>` and again in `innererror.internalexception`;
 *   ManagementObjectNotFoundException travels as 404 "NotFound", the others as 400 "BadRequest".
 * - a call the service could not bind (unknown parameter, value of the wrong type): 400 "Invalid Operation", the text in
 *   `innererror.internalexception` (and in `details` for unknown parameters).
 * - authorization failures: 401 with `WWW-Authenticate` and `x-ms-diagnostics` for a bad token; 403 when the caller
 *   holds no role that allows the cmdlet (the live service then sends no usable body; the emulator sends the shape
 *   below so that a person can read why).
 * Clients read `error.details[].message` → `error.innererror.internalexception.message` → `error.message` (CIPP's
 * New-ExoRequest.ps1 does exactly this).
 */

/** What a client should make of an error. The product's REST backend maps these to its own error kinds. */
export type ExchangeErrorCategory =
  | 'not-found'
  | 'service-principal-not-found'
  | 'already-exists'
  | 'ambiguous'
  | 'invalid-parameter'
  | 'unknown-cmdlet'
  | 'invalid-request'
  | 'unauthenticated'
  | 'access-denied'
  | 'throttled'
  | 'transient';

export interface ExchangeErrorKind {
  category: ExchangeErrorCategory;
  status: number;
  /** `error.code` of the body. */
  code: string;
  /** `error.message` of the body (generic; the useful text is in details / innererror). */
  envelope: string;
  /** The .NET exception type named in `details[].message` and `innererror.internalexception.type`. */
  exceptionType: string;
  /** Whether a client may retry the same call unchanged (after waiting). */
  retryable: boolean;
}

const ODATA_EXCEPTION = 'Microsoft.Exchange.Admin.OData.Core.ODataServiceException';
export const ERROR_EXECUTING_CMDLET = 'Error executing cmdlet';
export const INVALID_OPERATION = 'Invalid Operation';

/** The error kinds the emulator produces, keyed by a short name. */
export const EXCHANGE_ERROR_KINDS = {
  notFound: {
    category: 'not-found',
    status: 404,
    code: 'NotFound',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException',
    retryable: false,
  },
  servicePrincipalNotFound: {
    category: 'service-principal-not-found',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException',
    retryable: false,
  },
  alreadyExists: {
    category: 'already-exists',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException',
    retryable: false,
  },
  ambiguous: {
    category: 'ambiguous',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException',
    retryable: false,
  },
  invalidOperation: {
    category: 'invalid-request',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException',
    retryable: false,
  },
  invalidArgument: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.TaskArgumentException',
    retryable: false,
  },
  dataValidation: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'Microsoft.Exchange.Data.DataValidationException',
    retryable: false,
  },
  badGuid: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: ERROR_EXECUTING_CMDLET,
    exceptionType: 'System.FormatException',
    retryable: false,
  },
  unknownParameter: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: INVALID_OPERATION,
    exceptionType: 'Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException',
    retryable: false,
  },
  parameterTransformation: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: INVALID_OPERATION,
    exceptionType: 'Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException',
    retryable: false,
  },
  parameterBinding: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: INVALID_OPERATION,
    exceptionType: 'System.Management.Automation.ParameterBindingException',
    retryable: false,
  },
  parameterValidation: {
    category: 'invalid-parameter',
    status: 400,
    code: 'BadRequest',
    envelope: INVALID_OPERATION,
    exceptionType: 'System.Management.Automation.ParameterBindingValidationException',
    retryable: false,
  },
  malformedRequest: {
    category: 'invalid-request',
    status: 400,
    code: 'BadRequest',
    envelope: INVALID_OPERATION,
    exceptionType: 'Microsoft.OData.ODataException',
    retryable: false,
  },
  unknownCmdlet: {
    category: 'unknown-cmdlet',
    status: 403,
    code: 'Forbidden',
    envelope: INVALID_OPERATION,
    exceptionType: 'System.Management.Automation.CommandNotFoundException',
    retryable: false,
  },
  accessDenied: {
    category: 'access-denied',
    status: 403,
    code: 'Forbidden',
    envelope: 'Access Denied',
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.CmdletAccessDeniedException',
    retryable: false,
  },
  notAllowed: {
    category: 'access-denied',
    status: 401,
    code: 'Unauthorized',
    envelope: 'Access Denied',
    exceptionType: 'Microsoft.Exchange.Configuration.Tasks.CmdletAccessDeniedException',
    retryable: false,
  },
  unauthenticated: {
    category: 'unauthenticated',
    status: 401,
    code: 'Unauthorized',
    envelope: 'Unauthorized',
    exceptionType: 'Microsoft.Exchange.Security.OAuth.InvalidOAuthTokenException',
    retryable: false,
  },
  tenantNotFound: {
    category: 'not-found',
    status: 404,
    code: 'NotFound',
    envelope: 'Not Found',
    exceptionType: 'Microsoft.Exchange.Data.Directory.CannotResolveTenantNameException',
    retryable: false,
  },
  throttled: {
    category: 'throttled',
    status: 429,
    code: 'TooManyRequests',
    envelope: 'Too many requests',
    exceptionType: 'Microsoft.Exchange.Data.Storage.ResourceUnhealthyException',
    retryable: true,
  },
  internal: {
    category: 'transient',
    status: 500,
    code: 'InternalServerError',
    envelope: 'Internal server error',
    exceptionType: 'System.InvalidOperationException',
    retryable: true,
  },
  unavailable: {
    category: 'transient',
    status: 503,
    code: 'ServiceUnavailable',
    envelope: 'Service Unavailable',
    exceptionType: 'Microsoft.Exchange.Data.Storage.ServerUnavailableException',
    retryable: true,
  },
} as const satisfies Record<string, ExchangeErrorKind>;

export type ExchangeErrorKindName = keyof typeof EXCHANGE_ERROR_KINDS;

/**
 * Classifies an InvokeCommand error response the way a client should: by status, then by the exception type named
 * in the body. Pure; kept here so the product's REST backend can mirror it (product code may not import the emulator).
 */
export function classifyExchangeError(status: number, body: unknown): ExchangeErrorCategory {
  if (status === 401 && /CmdletAccessDeniedException/.test(JSON.stringify(body ?? {}))) return 'access-denied';
  if (status === 401) return 'unauthenticated';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'transient';
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  const texts: string[] = [];
  if (error && Array.isArray(error.details))
    for (const d of error.details) if (typeof d?.message === 'string') texts.push(d.message);
  const inner = (error?.innererror as { internalexception?: { type?: unknown; message?: unknown } } | undefined)
    ?.internalexception;
  if (typeof inner?.type === 'string') texts.push(inner.type);
  if (typeof inner?.message === 'string') texts.push(inner.message);
  const all = texts.join(' ');
  if (/AADServicePrincipalNotFound/.test(all)) return 'service-principal-not-found';
  if (/ManagementObjectNotFoundException/.test(all)) return 'not-found';
  if (/AlreadyExistsException/.test(all)) return 'already-exists';
  if (/ManagementObjectAmbiguousException/.test(all)) return 'ambiguous';
  if (/CommandNotFoundException/.test(all)) return 'unknown-cmdlet';
  if (/CmdletAccessDeniedException/.test(all)) return 'access-denied';
  if (
    /Parameter(SetException|TransformationException|BindingException|BindingValidationException)|FormatException|DataValidationException/.test(
      all,
    )
  )
    return 'invalid-parameter';
  if (status === 403) return 'access-denied';
  if (status === 404) return 'not-found';
  return 'invalid-request';
}

/** The domain controller Exchange names in "couldn't be found on '…'" (a stable, realistic-looking name). */
export const DOMAIN_CONTROLLER = 'AM6PR01A001DC004.EURPR01A001.PROD.OUTLOOK.COM';

/** An error raised while running a cmdlet; turned into the wire body by `errorBody`. */
export class ExchangeError extends Error {
  readonly kind: ExchangeErrorKind;
  /** The cmdlet's own text (what `details[].message` carries after the prefix). */
  readonly text: string;
  /** Exchange's localized-string id (e.g. Ex6F9304), or '' when unknown. */
  readonly errorId: string;
  /** Whether the body carries `details` (binding errors without it are observed too). */
  readonly withDetails: boolean;
  readonly headers: Record<string, string>;

  constructor(
    kind: ExchangeErrorKind,
    text: string,
    options: { errorId?: string; withDetails?: boolean; headers?: Record<string, string> } = {},
  ) {
    super(text);
    this.kind = kind;
    this.text = text;
    this.errorId = options.errorId ?? '';
    this.withDetails = options.withDetails ?? true;
    this.headers = options.headers ?? {};
  }
}

export function errorBody(e: ExchangeError, warnings: string[] = []): Record<string, unknown> {
  const { kind } = e;
  const error: Record<string, unknown> = { code: kind.code, message: kind.envelope };
  if (e.withDetails)
    error.details = [{ code: 'Client', target: '', message: `${e.errorId}|${kind.exceptionType}|${e.text}` }];
  error.innererror = {
    message: kind.envelope,
    type: ODATA_EXCEPTION,
    stacktrace: '',
    internalexception: { message: e.text, type: kind.exceptionType, stacktrace: '' },
  };
  error['adminapi.warnings@odata.type'] = '#Collection(String)';
  error['@adminapi.warnings'] = warnings;
  return { error };
}

// ---- the texts Exchange uses ----

/** ManagementObjectNotFoundException, as Exchange words it (Ex6F9304). */
export function notFound(identity: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.notFound,
    `The operation couldn't be performed because object '${identity}' couldn't be found on '${DOMAIN_CONTROLLER}'.`,
    { errorId: 'Ex6F9304' },
  );
}

/**
 * New-ServicePrincipal with an object id that names no Entra service principal of the app in this tenant (the app
 * registration's object id, a typo), or one that has not replicated to Exchange yet. Field reports quote
 * "AADServicePrincipalNotFound. No ServicePrincipal with Object Id 'X' ... is registered"; the rest of the wording
 * varies, so clients match the token.
 */
export function aadServicePrincipalNotFound(objectId: string, appId: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.servicePrincipalNotFound,
    `AADServicePrincipalNotFound. No ServicePrincipal with Object Id '${objectId}' and App Id '${appId}' is registered in Azure Active Directory for this organization.`,
  );
}

/** A security principal (-User / -Trustee) that doesn't resolve. */
export function principalNotFound(identity: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.notFound,
    `User or group "${identity}" wasn't found. Please make sure you've typed it correctly.`,
    { errorId: 'Ex9E3CA8' },
  );
}

export function ambiguous(identity: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.ambiguous,
    `The operation couldn't be performed because '${identity}' matches multiple entries.`,
    { errorId: 'Ex88B19E' },
  );
}

/** ADObjectAlreadyExistsException: "The object '<DN>' already exists." */
export function alreadyExists(distinguishedName: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.alreadyExists, `The object '${distinguishedName}' already exists.`, {
    errorId: 'Ex3A1A97',
  });
}

/** The live service's answer for a parameter the cmdlet doesn't have. */
export function unknownParameters(names: string[]): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.unknownParameter,
    `Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified. ${names.join(', ')}`,
  );
}

export function unknownCmdlet(name: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.unknownCmdlet,
    `The term '${name}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
  );
}

export function missingMandatory(names: string[]): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.parameterBinding,
    `Cannot process command because of one or more missing mandatory parameters: ${names.join(' ')}.`,
  );
}

export function nullArgument(name: string, empty: boolean): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.parameterValidation,
    `Cannot bind argument to parameter '${name}' because it is ${empty ? 'an empty string' : 'null'}.`,
  );
}

/** A value PowerShell can't convert to the parameter's type (observed without `details`). */
export function transformation(name: string, detail: string): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.parameterTransformation,
    `Cannot process argument transformation on parameter '${name}'. ${detail}`,
    { withDetails: false },
  );
}

export function malformed(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.malformedRequest, text, { withDetails: false });
}

/**
 * 401 for an authenticated caller Exchange will not let run the cmdlet ("User is not allowed to call <cmdlet>", "The
 * role assigned to application … isn't supported in this scenario", captured as
 * `[FailureCategory=AuthZ-CmdletAccessDeniedException]`).
 */
export function notAllowed(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.notAllowed, text);
}

export function accessDenied(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.accessDenied, text);
}

export function invalidOperation(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.invalidOperation, text);
}

export function invalidArgument(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.invalidArgument, text);
}

/** A property value outside its constraint (e.g. a Name longer than 64 characters): DataValidationException. */
export function dataValidation(text: string): ExchangeError {
  return new ExchangeError(EXCHANGE_ERROR_KINDS.dataValidation, text);
}

export function badGuid(): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.badGuid,
    'Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).',
  );
}
