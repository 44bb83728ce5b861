/**
 * The cmdlets sendasapp runs through ExchangeOnlineManagement: the bridge script refuses every other name, and
 * Connect-ExchangeOnline -CommandName loads only these. templates/exchange/bridge.ps1 carries the same list (a test
 * keeps the two equal).
 */
export const PWSH_CMDLETS = [
  'Get-ServicePrincipal',
  'New-ServicePrincipal',
  'Remove-ServicePrincipal',
  'Get-MailboxPermission',
  'Add-MailboxPermission',
  'Remove-MailboxPermission',
  'Get-RecipientPermission',
  'Add-RecipientPermission',
  'Remove-RecipientPermission',
  'Get-CASMailbox',
  'Set-CASMailbox',
  'Get-TransportConfig',
  'Set-TransportConfig',
  'Get-OrganizationConfig',
  'Get-Mailbox',
  'Get-AcceptedDomain',
  'Get-DistributionGroup',
  'Get-DistributionGroupMember',
  'Get-ManagementScope',
  'New-ManagementScope',
  'Set-ManagementScope',
  'Remove-ManagementScope',
  'Get-ManagementRoleAssignment',
  'New-ManagementRoleAssignment',
  'Remove-ManagementRoleAssignment',
  'Test-ServicePrincipalAuthorization',
] as const;

export type PwshCmdlet = (typeof PWSH_CMDLETS)[number];

const BY_LOWER = new Map<string, PwshCmdlet>(PWSH_CMDLETS.map((c) => [c.toLowerCase(), c]));

/** The canonical name of a whitelisted cmdlet, or undefined. */
export function allowedCmdlet(name: string): PwshCmdlet | undefined {
  return BY_LOWER.get(name.toLowerCase());
}
