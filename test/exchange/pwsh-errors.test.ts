/**
 * The pwsh classifier (src/exchange/pwsh/errors.ts) on the shapes ExchangeOnlineManagement 3.x writes (as the stand-in
 * module writes them, see test/pwsh/ExchangeOnlineManagement.Tests.ps1):
 *   CategoryInfo           NotSpecified: (:) [<Cmdlet>], <ExceptionType>
 *   FullyQualifiedErrorId  [Server=…,RequestId=…,TimeStamp=…],Write-ErrorMessage
 *   message                Ex<hex>|<Type>|<text>
 * For every error the emulator's Exchange produces, the pwsh backend must reach the same kind as the REST backend on
 * the same error, so resources never know which backend ran.
 */
import { describe, expect, it } from 'vitest';
import { classifyExchangeError } from '../../src/exchange/rest.js';
import { bridgeErrorMessage, classifyBridgeError } from '../../src/exchange/pwsh/index.js';
import { EXCHANGE_ERROR_KINDS, ExchangeError as EmulatorError, errorBody } from '../../src/emulator/exchange/errors.js';

const TEXTS: Record<string, string> = {
  notFound:
    "The operation couldn't be performed because object 'x@contoso.onmicrosoft.com' couldn't be found on 'EMU01'.",
  alreadyExists: "The object 'x' already exists.",
  servicePrincipalNotFound:
    "AADServicePrincipalNotFound. No ServicePrincipal with Object Id '0a1b' and App Id '2c3d' is registered in Azure Active Directory for this organization.",
  accessDenied: 'User is not allowed to call Get-TransportConfig',
  unauthenticated: 'The token has expired.',
  throttled: 'The request was throttled by the server. Retry after 1 seconds.',
  unavailable: 'The server is unavailable.',
  internal: 'Operation is not valid due to the current state of the object.',
  unknownParameter: "A parameter cannot be found that matches parameter name 'NoSuchParameter'.",
  parameterBinding: "Cannot bind parameter 'RecipientRestrictionFilter' to the target.",
  badGuid: 'Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).',
};

/** What the stand-in (like the real module) turns an InvokeCommand error body into, as the bridge reports it. */
function exo3Shape(body: ReturnType<typeof errorBody>, cmdlet: string) {
  const e = body.error as {
    details?: Array<{ message: string }>;
    innererror: { internalexception: { type: string; message: string } };
  };
  const type = e.innererror.internalexception.type;
  return {
    category: 'NotSpecified',
    reason: type.split('.').pop()!,
    errorId: `[Server=EMULATOR,RequestId=6f1c2a9e-1d2b-4c3d-8e4f-5a6b7c8d9e0f,TimeStamp=Tue, 01 Dec 2026 21:00:00 GMT],Write-ErrorMessage`,
    message: e.details?.[0]?.message ?? `|${type}|${e.innererror.internalexception.message}`,
    exceptionType: 'System.Exception',
    target: '',
    cmdlet,
  };
}

describe('classifyBridgeError on ExchangeOnlineManagement 3.x error shapes', () => {
  const cases = Object.entries(EXCHANGE_ERROR_KINDS).map(([name, kind]) => {
    const err = new EmulatorError(kind, TEXTS[name] ?? `the ${name} error`, { errorId: 'Ex6F9304' });
    const body = errorBody(err);
    return { name, kind, body, shape: exo3Shape(body, 'Get-Mailbox') };
  });

  /**
   * Where the record cannot carry what REST reads from the status (a 500 the module already retried), or where the
   * exception type says more than REST's text match does (REST: 'unknown').
   */
  const DIFFERS: Record<string, { rest: string; pwsh: string }> = {
    internal: { rest: 'transient', pwsh: 'unknown' },
    invalidArgument: { rest: 'unknown', pwsh: 'invalid-input' },
    badGuid: { rest: 'unknown', pwsh: 'invalid-input' },
  };

  it.each(cases.map((c) => [c.name, c] as const))('%s: the same kind as the REST backend', (name, c) => {
    const rest = classifyExchangeError(c.kind.status, c.body as never, TEXTS[name] ?? '');
    const pwsh = classifyBridgeError(c.shape);
    if (DIFFERS[name]) expect({ rest, pwsh }).toEqual(DIFFERS[name]);
    else expect(pwsh).toBe(rest);
  });

  it('names the kinds a run acts on, access-denied included', () => {
    const by = Object.fromEntries(cases.map((c) => [c.name, classifyBridgeError(c.shape)]));
    expect(by).toMatchObject({
      notFound: 'not-found',
      tenantNotFound: 'not-found',
      alreadyExists: 'already-exists',
      servicePrincipalNotFound: 'not-found',
      accessDenied: 'access-denied',
      unauthenticated: 'access-denied',
      throttled: 'throttled',
      unavailable: 'transient',
      unknownParameter: 'invalid-input',
      parameterBinding: 'invalid-input',
      parameterValidation: 'invalid-input',
      badGuid: 'invalid-input',
      unknownCmdlet: 'access-denied',
    });
  });

  it.each([
    [
      'New-ServicePrincipal before replication (TaskInvalidOperation carrying AADServicePrincipalNotFound)',
      "Ex2A1B3C|Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException|AADServicePrincipalNotFound: No ServicePrincipal with Object Id '0a1b…' is registered",
      'TaskInvalidOperationException',
      'not-found',
    ],
    [
      'an app without Exchange.ManageAsApp',
      'User is not allowed to call Get-TransportConfig',
      'CmdletAccessDeniedException',
      'access-denied',
    ],
    [
      'an app holding an unsupported directory role',
      "The role assigned to application 0a1b isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App Only Authentication.",
      'Exception',
      'access-denied',
    ],
  ])('%s', (_what, message, reason, kind) => {
    expect(
      classifyBridgeError({
        category: 'NotSpecified',
        reason,
        errorId: '[Server=X,RequestId=1,TimeStamp=2],Write-ErrorMessage',
        message,
        exceptionType: 'System.Exception',
      }),
    ).toBe(kind);
  });

  it('does not lean on the category (always NotSpecified) nor on a FailureCategory in the id', () => {
    const shape = exo3Shape(
      errorBody(new EmulatorError(EXCHANGE_ERROR_KINDS.notFound, TEXTS.notFound!)),
      'Get-Mailbox',
    );
    expect(shape.errorId).not.toMatch(/FailureCategory/);
    expect(classifyBridgeError(shape)).toBe('not-found');
    expect(classifyBridgeError({ ...shape, reason: undefined })).toBe('not-found'); // the message still says it
  });

  it("keeps Exchange's sentence: the Ex<hex>|Type| prefix is dropped", () => {
    const shape = exo3Shape(
      errorBody(new EmulatorError(EXCHANGE_ERROR_KINDS.notFound, TEXTS.notFound!, { errorId: 'Ex6F9304' })),
      'Get-Mailbox',
    );
    expect(shape.message).toMatch(
      /^Ex6F9304\|Microsoft\.Exchange\.Configuration\.Tasks\.ManagementObjectNotFoundException\|/,
    );
    expect(bridgeErrorMessage(shape)).toBe(TEXTS.notFound);
  });
});
