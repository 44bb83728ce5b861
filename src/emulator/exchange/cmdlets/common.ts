/** What the cmdlet implementations share: the cmdlet shape, ResultSize, recipient filters, GUID checks. */
import { GUID_RE, type TenantRecord, type UserRecord } from '../../state.js';
import { checkRecipientFilter, recipientFilterMatches } from '../authorization.js';
import { EXCHANGE_ERROR_KINDS, ExchangeError, badGuid } from '../errors.js';
import type { CmdletContext, CmdletOutput, Row } from '../model.js';
import type { BoundParameters, ParamSpec } from '../params.js';

export interface CmdletDefinition {
  /** Canonical name, e.g. `Get-Mailbox`. */
  name: string;
  params: ParamSpec[];
  run(ctx: CmdletContext, p: BoundParameters): CmdletOutput;
}

/** Exchange's Get- cmdlets return 1000 objects unless -ResultSize says otherwise. */
export const DEFAULT_RESULT_SIZE = 1000;

const MORE_THAN_DEFAULT =
  'By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don\'t recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.';
const MORE_THAN_ASKED =
  'There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.';

/** Applies -ResultSize and returns the warning Exchange gives when it cuts the list. */
export function applyResultSize(rows: Row[], p: BoundParameters): CmdletOutput {
  const size = p.resultSize();
  const limit = size === 'Unlimited' ? Infinity : (size ?? DEFAULT_RESULT_SIZE);
  if (rows.length <= limit) return { value: rows, warnings: [] };
  return { value: rows.slice(0, limit), warnings: [size === undefined ? MORE_THAN_DEFAULT : MORE_THAN_ASKED] };
}

/** Exchange's error for a filter it can't parse, raised while binding the filter parameter. */
export function filterError(parameter: string, filter: string): ExchangeError | undefined {
  const check = checkRecipientFilter(filter);
  if (check.ok) return undefined;
  const inner =
    check.problem === 'syntax'
      ? `Invalid filter syntax. For a description of the filter parameter syntax see the command help.\n"${filter}" at position ${check.position}.`
      : `"${check.property}" is not a recognized filterable property. For more information about the filterable properties, see the command help.`;
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.parameterBinding,
    `Cannot bind parameter '${parameter}' to the target. Exception setting "${parameter}": "${inner}"`,
  );
}

/** Keeps the users a -Filter selects (the filter has been checked by `filterError`). */
export function filterUsers(tenant: TenantRecord, users: UserRecord[], filter: string | undefined): UserRecord[] {
  if (filter === undefined) return users;
  return users.filter((u) => recipientFilterMatches(tenant, filter, u) === true);
}

export function requireGuid(value: string): string {
  const v = value.trim().replace(/^\{(.*)\}$/, '$1');
  if (!GUID_RE.test(v)) throw badGuid();
  return v.toLowerCase();
}

/** The error for two parameters of different parameter sets used together. */
export function parameterSetConflict(): ExchangeError {
  return new ExchangeError(
    EXCHANGE_ERROR_KINDS.unknownParameter,
    'Parameter set cannot be resolved using the specified named parameters.',
  );
}

/** Exchange's warning for a Set- that changed nothing. */
export function noChangeWarning(identity: string): string {
  return `The command completed successfully but no settings of '${identity}' have been modified.`;
}
