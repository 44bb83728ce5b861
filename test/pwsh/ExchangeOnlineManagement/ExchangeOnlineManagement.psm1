# TEST DOUBLE of ExchangeOnlineManagement (see the .psd1). Connect-ExchangeOnline, Disconnect-ExchangeOnline and the
# cmdlets sendasapp uses, with their real parameter names. Where the real type is an Exchange type that does not exist
# outside the module (MailboxIdParameter, Unlimited, MultiValuedProperty, RecipientAccessRight[] …), the parameter is a
# [string] / [string[]] / [object] with the real valid values; .NET types (Boolean, SwitchParameter, SecureString,
# X509Certificate2, String[]) are the real ones.
#
# Like the real module 3.x (where sendasapp's backend depends on it):
# - The cmdlets do not exist until Connect-ExchangeOnline: it creates them in a temporary module (tmpEXO_…), only the
#   ones named by -CommandName, imported globally; Disconnect-ExchangeOnline removes it.
# - Each cmdlet forwards its bound parameters to the emulator:
#     POST {ConnectionUri}/{Organization}/InvokeCommand  {"CmdletInput":{"CmdletName","Parameters"}}  (pages followed)
# - A service error is written by the temporary module's Write-ErrorMessage, NON-terminating unless the caller says
#   -ErrorAction Stop, shaped as the real module shapes it:
#     CategoryInfo           NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException
#     FullyQualifiedErrorId  [Server=…,RequestId=…,TimeStamp=…],Write-ErrorMessage
#     message                Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation …
#     exception              System.Exception
# - A throttled call (429, or 503 with Retry-After) is retried by the module itself, Retry-After seconds apart, up to
#   3 times, before the error is written.
#
# Test hooks (environment):
#   SENDASAPP_TEST_EXO_LOG        a file: one JSON line per connect / invoke / disconnect (never a token)
#   SENDASAPP_TEST_EXO_STATE      a directory for one-shot fault markers
#   SENDASAPP_TEST_EXO_CRASH_ON   a cmdlet name: the first call ends the process (exit 70)
#   SENDASAPP_TEST_EXO_HANG_ON    a cmdlet name: the first call never returns
#   SENDASAPP_TEST_EXO_FAULT_TIMES how many calls the crash / hang fault hits (default 1)
#   SENDASAPP_TEST_EXO_ENV_LOG    a file: the names of the environment variables this pwsh was given (once, at Connect)
# Only -AccessToken connections are supported, and -ConnectionUri is required (the emulator's .../adminapi/beta).

Set-StrictMode -Version 1.0

$script:Connection = $null
$script:TemporaryModule = $null
$script:ThrottleRetries = 3

$script:CommonParameters = @(
    'Verbose', 'Debug', 'ErrorAction', 'WarningAction', 'InformationAction', 'ProgressAction', 'ErrorVariable',
    'WarningVariable', 'InformationVariable', 'OutVariable', 'OutBuffer', 'PipelineVariable', 'WhatIf', 'Confirm'
)

function Write-TestLog {
    param([string] $EventName, [System.Collections.IDictionary] $Data)
    $path = $env:SENDASAPP_TEST_EXO_LOG
    if ([string]::IsNullOrEmpty($path)) { return }
    $entry = [ordered]@{ event = $EventName; pid = $PID }
    if ($null -ne $Data) { foreach ($key in $Data.Keys) { $entry[$key] = $Data[$key] } }
    $line = ConvertTo-Json -InputObject $entry -Depth 8 -Compress -EscapeHandling EscapeNonAscii
    [System.IO.File]::AppendAllText($path, $line + [Environment]::NewLine)
}

# A fault that fires the first SENDASAPP_TEST_EXO_FAULT_TIMES (default 1) times, across processes, that the named
# cmdlet is called.
function Test-Fault {
    param([string] $Variable, [string] $CmdletName)
    $target = [Environment]::GetEnvironmentVariable($Variable)
    if ([string]::IsNullOrEmpty($target) -or $target -ne $CmdletName) { return $false }
    $dir = $env:SENDASAPP_TEST_EXO_STATE
    if ([string]::IsNullOrEmpty($dir)) { return $true }
    $times = 1
    if (-not [int]::TryParse([string] $env:SENDASAPP_TEST_EXO_FAULT_TIMES, [ref] $times)) { $times = 1 }
    $marker = [System.IO.Path]::Combine($dir, "$Variable.count")
    $used = 0
    if ([System.IO.File]::Exists($marker)) { $used = [int] [System.IO.File]::ReadAllText($marker) }
    if ($used -ge $times) { return $false }
    [System.IO.File]::WriteAllText($marker, [string] ($used + 1))
    return $true
}

function Test-Loopback {
    param([string] $Uri)
    $hostName = ([uri] $Uri).Host
    return ($hostName -eq '127.0.0.1' -or $hostName -eq 'localhost' -or $hostName -eq '::1' -or $hostName -eq '[::1]')
}

# The emulator's error body as what the module's Write-ErrorMessage needs.
function ConvertTo-ExchangeErrorObject {
    param([string] $CmdletName, [int] $Status, $Body)
    $errorObject = $null
    if ($null -ne $Body -and $null -ne $Body.PSObject.Properties['error']) { $errorObject = $Body.error }
    $detail = $null
    $type = ''
    $text = "HTTP $Status"
    if ($null -ne $errorObject) {
        if ($null -ne $errorObject.PSObject.Properties['details'] -and @($errorObject.details).Count -gt 0) {
            $detail = [string] @($errorObject.details)[0].message
        }
        $inner = $null
        if ($null -ne $errorObject.PSObject.Properties['innererror']) { $inner = $errorObject.innererror }
        if ($null -ne $inner -and $null -ne $inner.PSObject.Properties['internalexception']) {
            $type = [string] $inner.internalexception.type
            $text = [string] $inner.internalexception.message
        } elseif ($null -ne $errorObject.PSObject.Properties['message']) {
            $text = [string] $errorObject.message
        }
    }
    $short = if ($type) { ($type -split '\.')[-1] } else { "Http$Status" }
    $message = if ($detail) { $detail } elseif ($type) { "|$type|$text" } else { $text }
    return [pscustomobject]@{
        CmdletName = $CmdletName
        Message    = $message
        Reason     = $short
        ErrorId    = "[Server=EMULATOR,RequestId=$([guid]::NewGuid()),TimeStamp=$([DateTime]::UtcNow.ToString('R'))]"
    }
}

function Get-RetryAfterSeconds {
    param($Headers)
    if ($null -eq $Headers) { return 1 }
    foreach ($key in @($Headers.Keys)) {
        if ($key -ieq 'Retry-After') {
            $seconds = 0
            if ([int]::TryParse([string] @($Headers[$key])[0], [ref] $seconds)) { return [Math]::Min([Math]::Max($seconds, 0), 60) }
        }
    }
    return 1
}

# One cmdlet against the emulator. Returns @{ Rows; Warnings; Error } (Error: what Write-ErrorMessage writes).
function Invoke-EmulatorCmdlet {
    param(
        [string] $CmdletName,
        [System.Collections.IDictionary] $BoundParameters
    )
    $parameters = [ordered]@{}
    foreach ($key in $BoundParameters.Keys) {
        if ($script:CommonParameters -contains $key) { continue }
        $value = $BoundParameters[$key]
        if ($value -is [System.Management.Automation.SwitchParameter]) { $value = $value.IsPresent }
        $parameters[$key] = $value
    }
    Write-TestLog -EventName 'invoke' -Data ([ordered]@{ cmdlet = $CmdletName; parameters = $parameters })
    if (Test-Fault -Variable 'SENDASAPP_TEST_EXO_CRASH_ON' -CmdletName $CmdletName) { [Environment]::Exit(70) }
    if (Test-Fault -Variable 'SENDASAPP_TEST_EXO_HANG_ON' -CmdletName $CmdletName) { Start-Sleep -Seconds 3600 }

    $body = ConvertTo-Json -InputObject @{ CmdletInput = @{ CmdletName = $CmdletName; Parameters = $parameters } } -Depth 8 -Compress
    $tenant = $script:Connection.Organization
    $headers = @{
        Authorization         = 'Bearer ' + $script:Connection.Token
        Accept                = 'application/json'
        Prefer                = 'odata.maxpagesize=1000'
        'X-CmdletName'        = $CmdletName
        'X-ResponseFormat'    = 'json'
        'X-ClientApplication' = 'ExoManagementModule'
        'X-AnchorMailbox'     = 'APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@' + $tenant
    }
    $next = $script:Connection.Uri.TrimEnd('/') + '/' + [uri]::EscapeDataString($tenant) + '/InvokeCommand'
    $rows = [System.Collections.Generic.List[object]]::new()
    $warnings = [System.Collections.Generic.List[string]]::new()
    $retries = 0
    while ($next) {
        $status = 0
        $responseHeaders = $null
        $response = Invoke-RestMethod -Method Post -Uri $next -Headers $headers -Body $body -ContentType 'application/json' `
            -SkipHttpErrorCheck -StatusCodeVariable status -ResponseHeadersVariable responseHeaders `
            -SkipCertificateCheck:(Test-Loopback -Uri $next) -ErrorAction Stop
        if (($status -eq 429 -or $status -eq 503) -and $retries -lt $script:ThrottleRetries) {
            # The module's own retry of a throttled call, before any error reaches the caller.
            $retries += 1
            $wait = Get-RetryAfterSeconds -Headers $responseHeaders
            Write-TestLog -EventName 'retry' -Data ([ordered]@{ cmdlet = $CmdletName; status = $status; seconds = $wait })
            Start-Sleep -Seconds $wait
            continue
        }
        if ($status -ge 400) {
            return @{ Rows = $rows.ToArray(); Warnings = $warnings.ToArray(); Error = (ConvertTo-ExchangeErrorObject -CmdletName $CmdletName -Status $status -Body $response) }
        }
        if ($null -ne $response -and $null -ne $response.PSObject.Properties['@adminapi.warnings']) {
            foreach ($warning in @($response.'@adminapi.warnings')) { if ($warning) { $warnings.Add([string] $warning) } }
        }
        if ($null -ne $response -and $null -ne $response.PSObject.Properties['value']) {
            foreach ($row in @($response.value)) { $rows.Add($row) }
        }
        $next = $null
        if ($null -ne $response -and $null -ne $response.PSObject.Properties['@odata.nextLink']) { $next = [string] $response.'@odata.nextLink' }
    }
    return @{ Rows = $rows.ToArray(); Warnings = $warnings.ToArray(); Error = $null }
}

# What Connect-ExchangeOnline creates: a temporary module (TemporaryModule.psm1 copied under a tmpEXO_ name) made of
# Cmdlets.ps1 (the cmdlets, proxies to Invoke-EmulatorCmdlet, and Write-ErrorMessage), exporting only the -CommandName
# ones.
$script:CmdletsFile = [System.IO.Path]::Combine($PSScriptRoot, 'Cmdlets.ps1')
$script:TemporaryModuleFile = [System.IO.Path]::Combine($PSScriptRoot, 'TemporaryModule.psm1')
$script:TemporaryModuleDir = $null

# ---- connection ---------------------------------------------------------------------------------------------------

function Remove-TemporaryModule {
    if ($null -ne $script:TemporaryModule) {
        Remove-Module -ModuleInfo $script:TemporaryModule -Force -ErrorAction SilentlyContinue
        $script:TemporaryModule = $null
    }
    if ($null -ne $script:TemporaryModuleDir) {
        Remove-Item -LiteralPath $script:TemporaryModuleDir -Recurse -Force -ErrorAction SilentlyContinue
        $script:TemporaryModuleDir = $null
    }
}

function Connect-ExchangeOnline {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)] [string] $ConnectionUri,
        [Parameter(Position = 1)] [string] $AzureADAuthorizationEndpointUri,
        [Parameter(Position = 2)]
        [ValidateSet('O365Default', 'O365GermanyCloud', 'O365China', 'O365USGovGCCHigh', 'O365USGovDoD')]
        [string] $ExchangeEnvironmentName = 'O365Default',
        [Parameter(Position = 3)] [System.Management.Automation.Remoting.PSSessionOption] $PSSessionOption,
        [Parameter(Position = 4)] [string] $DelegatedOrganization,
        [Parameter(Position = 5)] [string] $Prefix,
        [Parameter(Position = 6)] [string[]] $CommandName,
        [Parameter(Position = 7)] [string[]] $FormatTypeName,
        [string] $AccessToken,
        [string] $AppId,
        [switch] $BypassMailboxAnchoring,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [string] $CertificateFilePath,
        [securestring] $CertificatePassword,
        [string] $CertificateThumbprint,
        [pscredential] $Credential,
        [switch] $Device,
        [switch] $DisableWAM,
        [switch] $EnableErrorReporting,
        [string] $EXOModuleBasePath,
        [switch] $InlineCredential,
        [switch] $LoadCmdletHelp,
        [string] $LogDirectoryPath,
        [string] $LogLevel,
        [switch] $ManagedIdentity,
        [string] $ManagedIdentityAccountId,
        [string] $Organization,
        [uint32] $PageSize = 1000,
        [switch] $ShowBanner,
        [bool] $ShowProgress,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $SigningCertificate,
        [switch] $SkipLoadingCmdletHelp,
        [switch] $SkipLoadingFormatData,
        [bool] $TrackPerformance,
        [bool] $UseMultithreading,
        [string] $UserPrincipalName,
        [switch] $UseRPSSession
    )
    # The real banner shows unless -ShowBanner:$false is given.
    $bannerShown = -not $PSBoundParameters.ContainsKey('ShowBanner') -or $ShowBanner.IsPresent
    Write-TestLog -EventName 'connect' -Data ([ordered]@{
            organization          = $Organization
            delegatedOrganization = $DelegatedOrganization
            connectionUri         = $ConnectionUri
            environment           = $ExchangeEnvironmentName
            commandName           = @($CommandName)
            showBanner            = $bannerShown
            skipLoadingFormatData = $SkipLoadingFormatData.IsPresent
            hasAccessToken        = -not [string]::IsNullOrEmpty($AccessToken)
            accessTokenOnCommandLine = ([Environment]::CommandLine.Contains([string] $AccessToken) -and -not [string]::IsNullOrEmpty($AccessToken))
        })
    if ([string]::IsNullOrEmpty($AccessToken)) {
        $exception = [System.NotSupportedException]::new('The sendasapp test module connects with -AccessToken only.')
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($exception, 'TestModuleAccessTokenOnly', 'NotImplemented', $null))
    }
    $org = if ($DelegatedOrganization) { $DelegatedOrganization } elseif ($Organization) { $Organization } else { '' }
    if (-not $org) {
        $exception = [System.ArgumentException]::new('Either one of Organization, DelegatedOrganization or UserPrincipalName should be provided with the AccessToken.')
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($exception, 'MissingOrganization', 'InvalidArgument', $null))
    }
    if ([string]::IsNullOrEmpty($ConnectionUri)) {
        $exception = [System.ArgumentException]::new('The sendasapp test module needs -ConnectionUri (the emulator''s .../adminapi/beta).')
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($exception, 'MissingConnectionUri', 'InvalidArgument', $null))
    }
    $script:Connection = [pscustomobject]@{
        Uri          = $ConnectionUri
        Organization = $org
        Token        = $AccessToken
    }
    if (-not [string]::IsNullOrEmpty($env:SENDASAPP_TEST_EXO_ENV_LOG)) {
        $names = @(Get-ChildItem -Path Env: | ForEach-Object { $_.Name } | Sort-Object)
        [System.IO.File]::WriteAllText($env:SENDASAPP_TEST_EXO_ENV_LOG, (ConvertTo-Json -InputObject $names -Compress))
    }
    Remove-TemporaryModule
    $all = @($script:CmdletNames)
    $wanted = @($CommandName | Where-Object { $_ } | ForEach-Object { $requested = $_; $all | Where-Object { $_ -ieq $requested } })
    if ($wanted.Count -eq 0) { $wanted = $all }
    $name = 'tmpEXO_' + [System.IO.Path]::GetRandomFileName().Replace('.', '')
    $script:TemporaryModuleDir = [System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), $name)
    $null = [System.IO.Directory]::CreateDirectory($script:TemporaryModuleDir)
    $file = [System.IO.Path]::Combine($script:TemporaryModuleDir, "$name.psm1")
    [System.IO.File]::Copy($script:TemporaryModuleFile, $file)
    $script:TemporaryModule = Import-Module -Name $file -Global -PassThru -DisableNameChecking -ArgumentList $ExecutionContext.SessionState.Module, ([string[]] $wanted), $script:CmdletsFile
    if ($bannerShown) { Write-Host 'This is the sendasapp test double of ExchangeOnlineManagement (banner).' }
}

function Disconnect-ExchangeOnline {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [string] $ConnectionId,
        [string] $ModulePrefix
    )
    if ($PSCmdlet.ShouldProcess('Exchange Online session', 'Disconnect')) {
        Write-TestLog -EventName 'disconnect' -Data ([ordered]@{ connected = ($null -ne $script:Connection) })
        $script:Connection = $null
        Remove-TemporaryModule
    }
}

# ---- the cmdlets Connect-ExchangeOnline creates (Cmdlets.ps1) -------------------------------------------------------
# Not functions of this module: before Connect-ExchangeOnline they do not exist (as with the real module).

$script:CmdletNames = @(
    'Get-ServicePrincipal'
    'New-ServicePrincipal'
    'Remove-ServicePrincipal'
    'Test-ServicePrincipalAuthorization'
    'Get-MailboxPermission'
    'Add-MailboxPermission'
    'Remove-MailboxPermission'
    'Get-RecipientPermission'
    'Add-RecipientPermission'
    'Remove-RecipientPermission'
    'Get-Mailbox'
    'Get-AcceptedDomain'
    'Get-CASMailbox'
    'Set-CASMailbox'
    'Get-TransportConfig'
    'Set-TransportConfig'
    'Get-OrganizationConfig'
    'Get-DistributionGroup'
    'Get-DistributionGroupMember'
    'Get-ManagementScope'
    'New-ManagementScope'
    'Set-ManagementScope'
    'Remove-ManagementScope'
    'Get-ManagementRoleAssignment'
    'New-ManagementRoleAssignment'
    'Remove-ManagementRoleAssignment'
)

Export-ModuleMember -Function @('Connect-ExchangeOnline', 'Disconnect-ExchangeOnline')
