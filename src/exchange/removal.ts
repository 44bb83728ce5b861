/**
 * Teardown on the Exchange side: an app's FullAccess and SendAs grants, its RBAC role assignment and management
 * scope. Each removes only what names the app's own service principal or carries its own name, and treats "not
 * there" as done (a teardown run again after a crash converges).
 */
import { ExchangeError, type ExchangeBackend } from './backend.js';
import type { ExchangeServicePrincipal } from './resources.js';

async function unlessMissing(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

/** Remove-MailboxPermission of the app's FullAccess (another trustee's rights on the mailbox are not touched). */
export function revokeFullAccess(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<void> {
  return unlessMissing(() =>
    exo.invoke('Remove-MailboxPermission', {
      Identity: mailbox,
      User: sp.ObjectId,
      AccessRights: ['FullAccess'],
      InheritanceType: 'All',
      Confirm: false,
    }),
  );
}

/** Remove-RecipientPermission of the app's SendAs. */
export function revokeSendAs(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<void> {
  return unlessMissing(() =>
    exo.invoke('Remove-RecipientPermission', {
      Identity: mailbox,
      Trustee: sp.ObjectId,
      AccessRights: ['SendAs'],
      Confirm: false,
    }),
  );
}

/** Remove-ManagementRoleAssignment by name. */
export function removeRoleAssignment(exo: ExchangeBackend, name: string): Promise<void> {
  return unlessMissing(() => exo.invoke('Remove-ManagementRoleAssignment', { Identity: name, Confirm: false }));
}

/** Remove-ManagementScope by name (after the role assignments that use it). */
export function removeManagementScope(exo: ExchangeBackend, name: string): Promise<void> {
  return unlessMissing(() => exo.invoke('Remove-ManagementScope', { Identity: name, Confirm: false }));
}
