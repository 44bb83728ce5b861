/**
 * PowerShell errors (as the bridge reports them: ErrorCategory, CategoryInfo.Reason, FullyQualifiedErrorId, exception
 * type, message) mapped to the ExchangeError kinds the REST backend uses, so resources never know which backend ran.
 *
 * ExchangeOnlineManagement 3.x reports a service error as, for example,
 *   CategoryInfo          : NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException
 *   FullyQualifiedErrorId : [Server=…,RequestId=…,TimeStamp=…] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] …
 * and 3.x (REST-based) writes most errors with the category NotSpecified and the id
 *   [Server=…,RequestId=…,TimeStamp=…],Write-ErrorMessage    message  Ex6F9304|<exception type>|<text>
 * so the category alone is not enough: the reason, the id and the message are read too, most specific first. What
 * cannot be told from the record is the HTTP status: a 500 the module already retried is 'unknown' here (REST says
 * 'transient').
 */
import type { ExchangeErrorKind } from '../backend.js';
import type { BridgeErrorInfo } from './protocol.js';

/** Errors the bridge raises itself, before any cmdlet runs. */
const BRIDGE_INPUT = /^(CmdletNotAllowed|InvalidParameterName|InvalidParameterValue|ReservedParameter|BadRequest)\b/;

export function classifyBridgeError(e: BridgeErrorInfo): ExchangeErrorKind {
  const category = e.category ?? '';
  const id = e.errorId ?? '';
  if (BRIDGE_INPUT.test(id)) return 'invalid-input';
  const text = [category, e.reason, id, e.exceptionType, e.message].filter(Boolean).join(' ');
  // New-ServicePrincipal before Entra's service principal has reached Exchange (m365-facts §8): not there yet.
  if (/AADServicePrincipalNotFound/i.test(text)) return 'not-found';
  if (
    category === 'LimitsExceeded' ||
    /throttl|TooManyRequests|ResourceUnhealthy|MicroDelay|BackoffException|OverBudget|exceeded the (allowed )?budget/i.test(
      text,
    )
  )
    return 'throttled';
  if (
    category === 'PermissionDenied' ||
    category === 'SecurityError' ||
    category === 'AuthenticationError' ||
    /AccessDenied|UnauthorizedAccess|Unauthorized|InvalidOAuthToken|CmdletNotAvailable|not have (enough |the )?permission|isn't assigned to any management roles|not allowed to call|isn't supported in this scenario|insufficient privileges/i.test(
      text,
    )
  )
    return 'access-denied';
  // A whitelisted cmdlet that Connect-ExchangeOnline did not create (the module creates only what the account's
  // roles allow; REST answers 403 for it): the account may not run it.
  if (/CommandNotFound|is not recognized as (the )?name/i.test(text)) return 'access-denied';
  if (
    category === 'OperationTimeout' ||
    category === 'ConnectionError' ||
    category === 'ResourceUnavailable' ||
    /timed? ?out|ServerUnavailable|Service Unavailable|ServiceUnavailable|TransientException|HttpRequestException|SocketException|InternalServerError/i.test(
      text,
    )
  )
    return 'transient';
  // Checked before not-found: a binding error's category is often ObjectNotFound-like, its object is a parameter.
  if (
    /ParameterBinding|NamedParameterNotFound|ParameterArgument|AmbiguousParameterSet|ParameterSetException|cannot be found that matches parameter/i.test(
      text,
    )
  )
    return 'invalid-input';
  if (
    category === 'ObjectNotFound' ||
    /ManagementObjectNotFound|couldn't be found|could not be found|wasn't found|was not found|NotFound/i.test(text)
  )
    return 'not-found';
  if (category === 'ResourceExists' || /AlreadyExists|already exists|already has/i.test(text)) return 'already-exists';
  if (
    category === 'InvalidArgument' ||
    category === 'InvalidData' ||
    category === 'InvalidType' ||
    /ValidationException|ArgumentException|FormatException|Cannot process argument|cannot convert|TaskInvalidOperation/i.test(
      text,
    )
  )
    return 'invalid-input';
  return 'unknown';
}

/** Exchange's own sentence: the "ErrorId|Type|" prefix the service puts on messages is dropped. */
export function bridgeErrorMessage(e: BridgeErrorInfo): string {
  const raw = (e.message ?? '').trim() || e.reason || e.category || 'PowerShell reported an error without a message';
  return raw.replace(/^[^|\s]*\|[^|\s]*\|/, '').trim();
}
