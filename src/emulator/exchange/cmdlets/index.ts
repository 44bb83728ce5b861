/** The cmdlets the emulated admin API knows, by lower-cased name. */
import type { CmdletDefinition } from './common.js';
import { permissionCmdlets } from './permissions.js';
import { principalCmdlets } from './principals.js';
import { recipientCmdlets } from './recipients.js';
import { domainCmdlets } from './domains.js';

export type { CmdletDefinition } from './common.js';
export { APPLICATION_ROLES } from './principals.js';

export const CMDLETS: ReadonlyMap<string, CmdletDefinition> = new Map(
  [...recipientCmdlets, ...permissionCmdlets, ...principalCmdlets, ...domainCmdlets].map((c) => [
    c.name.toLowerCase(),
    c,
  ]),
);

/** New-/Set-/Add-/Remove- change state; Get-/Test- don't. */
export function isWriteCmdlet(name: string): boolean {
  return /^(new|set|add|remove|enable|disable|update|clear)-/i.test(name);
}
