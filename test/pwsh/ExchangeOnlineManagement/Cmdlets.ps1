# TEST DOUBLE, part of test/pwsh/ExchangeOnlineManagement: what Connect-ExchangeOnline creates, dot-sourced into the
# temporary module (tmpEXO_…). $script:Parent is the ExchangeOnlineManagement module (it holds the connection).
# The cmdlets have the real parameter names; where the real type is an Exchange type that does not exist outside the
# module (MailboxIdParameter, Unlimited, MultiValuedProperty, RecipientAccessRight[] …), the parameter is a [string] /
# [string[]] / [object] with the real valid values.


# Writes a service error as the real module does. An advanced function of the temporary module, so the
# -ErrorAction of the cmdlet that called it applies: non-terminating unless Stop.
function Write-ErrorMessage {
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $ErrorObject)
    $exception = [System.Exception]::new($ErrorObject.Message)
    $record = [System.Management.Automation.ErrorRecord]::new($exception, $ErrorObject.ErrorId, [System.Management.Automation.ErrorCategory]::NotSpecified, $null)
    $record.CategoryInfo.Activity = $ErrorObject.CmdletName
    $record.CategoryInfo.Reason = $ErrorObject.Reason
    $PSCmdlet.WriteError($record)
}

function Invoke-Proxy {
    param([System.Management.Automation.PSCmdlet] $Caller, [string] $CmdletName, [System.Collections.IDictionary] $BoundParameters)
    $answer = & $script:Parent Invoke-EmulatorCmdlet -CmdletName $CmdletName -BoundParameters $BoundParameters
    foreach ($warning in $answer.Warnings) { $Caller.WriteWarning($warning) }
    foreach ($row in $answer.Rows) { $row }
    if ($null -ne $answer.Error) { Write-ErrorMessage $answer.Error }
}

# ---- service principals -------------------------------------------------------------------------------------------

function Get-ServicePrincipal {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $Organization
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-ServicePrincipal' -BoundParameters $PSBoundParameters }
}

function New-ServicePrincipal {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [Alias('ServiceId')] [string] $ObjectId,
        [string] $DisplayName,
        [string] $Organization
    )
    process {
        if ($PSCmdlet.ShouldProcess($AppId)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'New-ServicePrincipal' -BoundParameters $PSBoundParameters }
    }
}

function Remove-ServicePrincipal {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $Organization
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Remove-ServicePrincipal' -BoundParameters $PSBoundParameters }
    }
}

function Test-ServicePrincipalAuthorization {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Low')]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Identity,
        [string] $Resource
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Test-ServicePrincipalAuthorization' -BoundParameters $PSBoundParameters }
}

# ---- mailbox and recipient permissions ----------------------------------------------------------------------------

function Get-MailboxPermission {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $User,
        [switch] $Owner,
        [switch] $GroupMailbox,
        [switch] $ReadFromDomainController,
        [object] $ResultSize,
        [switch] $SoftDeletedMailbox,
        [switch] $IncludeSoftDeletedUserPermissions,
        [switch] $IncludeUnresolvedPermissions
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-MailboxPermission' -BoundParameters $PSBoundParameters }
}

function Add-MailboxPermission {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [Parameter(Mandatory)] [string] $User,
        [Parameter(Mandatory)]
        [ValidateSet('ChangeOwner', 'ChangePermission', 'DeleteItem', 'ExternalAccount', 'FullAccess', 'ReadPermission')]
        [string[]] $AccessRights,
        [bool] $AutoMapping,
        [ValidateSet('None', 'All', 'Descendents', 'SelfAndChildren', 'Children')] [string] $InheritanceType,
        [switch] $GroupMailbox,
        [switch] $IgnoreDefaultScope
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Add-MailboxPermission' -BoundParameters $PSBoundParameters }
    }
}

function Remove-MailboxPermission {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [Parameter(Mandatory)] [string] $User,
        [Parameter(Mandatory)]
        [ValidateSet('ChangeOwner', 'ChangePermission', 'DeleteItem', 'ExternalAccount', 'FullAccess', 'ReadPermission')]
        [string[]] $AccessRights,
        [ValidateSet('None', 'All', 'Descendents', 'SelfAndChildren', 'Children')] [string] $InheritanceType,
        [switch] $BypassMasterAccountSid,
        [switch] $GroupMailbox,
        [switch] $IgnoreDefaultScope,
        [switch] $SoftDeletedMailbox
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Remove-MailboxPermission' -BoundParameters $PSBoundParameters }
    }
}

function Get-RecipientPermission {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $Trustee,
        [ValidateSet('SendAs')] [string[]] $AccessRights,
        [switch] $ReadFromDomainController,
        [object] $ResultSize
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-RecipientPermission' -BoundParameters $PSBoundParameters }
}

function Add-RecipientPermission {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [Parameter(Mandatory)] [string] $Trustee,
        [Parameter(Mandatory)] [ValidateSet('SendAs')] [string[]] $AccessRights,
        [switch] $SkipDomainValidationForMailContact,
        [switch] $SkipDomainValidationForMailUser,
        [switch] $SkipDomainValidationForSharedMailbox
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Add-RecipientPermission' -BoundParameters $PSBoundParameters }
    }
}

function Remove-RecipientPermission {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [Parameter(Mandatory)] [string] $Trustee,
        [Parameter(Mandatory)] [ValidateSet('SendAs')] [string[]] $AccessRights,
        [switch] $SkipDomainValidationForMailContact,
        [switch] $SkipDomainValidationForMailUser,
        [switch] $SkipDomainValidationForSharedMailbox
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Remove-RecipientPermission' -BoundParameters $PSBoundParameters }
    }
}

# ---- recipients and SMTP AUTH -------------------------------------------------------------------------------------

function Get-Mailbox {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [object] $ResultSize,
        [string[]] $RecipientTypeDetails,
        [string] $Filter,
        [switch] $IncludeInactiveMailbox
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-Mailbox' -BoundParameters $PSBoundParameters }
}

function Get-AcceptedDomain {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-AcceptedDomain' -BoundParameters $PSBoundParameters }
}

function Get-CASMailbox {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [object] $ResultSize,
        [string] $Filter
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-CASMailbox' -BoundParameters $PSBoundParameters }
}

function Set-CASMailbox {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        # $true, $false or $null (the organization decides).
        [AllowNull()] [System.Nullable[bool]] $SmtpClientAuthenticationDisabled
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Set-CASMailbox' -BoundParameters $PSBoundParameters }
    }
}

function Get-TransportConfig {
    [CmdletBinding()]
    param([Parameter(Position = 0)] [string] $Identity)
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-TransportConfig' -BoundParameters $PSBoundParameters }
}

function Set-TransportConfig {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Position = 0)] [string] $Identity,
        [bool] $SmtpClientAuthenticationDisabled,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess('Transport Settings')) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Set-TransportConfig' -BoundParameters $PSBoundParameters }
    }
}

function Get-OrganizationConfig {
    [CmdletBinding()]
    param([Parameter(Position = 0)] [string] $Identity)
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-OrganizationConfig' -BoundParameters $PSBoundParameters }
}

function Get-DistributionGroup {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [object] $ResultSize
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-DistributionGroup' -BoundParameters $PSBoundParameters }
}

function Get-DistributionGroupMember {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [object] $ResultSize,
        [switch] $IgnoreDefaultScope,
        [switch] $ReadFromDomainController
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-DistributionGroupMember' -BoundParameters $PSBoundParameters }
}

# ---- RBAC for applications ----------------------------------------------------------------------------------------

function Get-ManagementScope {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [bool] $Exclusive,
        [switch] $Orphan
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-ManagementScope' -BoundParameters $PSBoundParameters }
}

function New-ManagementScope {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Mandatory)] [string] $RecipientRestrictionFilter,
        [switch] $Exclusive,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess($Name)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'New-ManagementScope' -BoundParameters $PSBoundParameters }
    }
}

function Set-ManagementScope {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $Name,
        [string] $RecipientRestrictionFilter,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Set-ManagementScope' -BoundParameters $PSBoundParameters }
    }
}

function Remove-ManagementScope {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Remove-ManagementScope' -BoundParameters $PSBoundParameters }
    }
}

function Get-ManagementRoleAssignment {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] [string] $Identity,
        [string] $Role,
        [string] $RoleAssignee,
        [ValidateSet('User', 'SecurityGroup', 'RoleAssignmentPolicy', 'MailboxPlan', 'ForeignSecurityPrincipal', 'Computer', 'PartnerLinkedRoleGroup', 'LinkedRoleGroup', 'ServicePrincipal')]
        [string] $RoleAssigneeType,
        [ValidateSet('None', 'NotApplicable', 'Organization', 'MyGAL', 'Self', 'MyDirectReports', 'OU', 'CustomRecipientScope', 'MyDistributionGroups', 'MyExecutive', 'ManagementScope', 'ExclusiveRecipientScope')]
        [string] $RecipientWriteScope,
        [bool] $Enabled,
        [bool] $Delegating,
        [bool] $Exclusive,
        [switch] $GetEffectiveUsers
    )
    process { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Get-ManagementRoleAssignment' -BoundParameters $PSBoundParameters }
}

function New-ManagementRoleAssignment {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Position = 0)] [string] $Name,
        [Parameter(Mandatory)] [string] $Role,
        [Parameter(Mandatory)] [string] $App,
        [string] $CustomResourceScope,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess($Role)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'New-ManagementRoleAssignment' -BoundParameters $PSBoundParameters }
    }
}

function Remove-ManagementRoleAssignment {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)] [string] $Identity,
        [switch] $Force
    )
    process {
        if ($PSCmdlet.ShouldProcess($Identity)) { Invoke-Proxy -Caller $PSCmdlet -CmdletName 'Remove-ManagementRoleAssignment' -BoundParameters $PSBoundParameters }
    }
}
