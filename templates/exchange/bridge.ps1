<#
.SYNOPSIS
    sendasapp's bridge to the ExchangeOnlineManagement module: one long-lived session, JSON lines on stdin/stdout.

.DESCRIPTION
    sendasapp starts this script once per tenant run:

        pwsh -NoLogo -NoProfile -NonInteractive -File bridge.ps1

    Nothing of the run is on that command line. Everything arrives on stdin, one JSON object per line:

        {"id":1,"type":"connect","mode":"AccessToken","connect":{...},"commandName":[...]}   first line
        {"id":2,"cmdlet":"Get-Mailbox","parameters":{"Identity":"ap@contoso.com"}}          then any number
        {"id":9,"type":"connect","connect":{...}}                                             a fresh token
        {"id":7,"type":"many","calls":[{"cmdlet":...,"parameters":{...}},...]}                 several reads at once
        EOF                                                                                   Disconnect-ExchangeOnline, exit 0

    Before reading anything the script writes {"id":null,"ok":true,"type":"hello","psVersion":...,"modules":[...]}
    (what -Probe reports) and imports the module. Every line then gets one answer on stdout, with the same id:

        {"id":2,"ok":true,"value":[...],"warnings":[...]}
        {"id":2,"ok":false,"error":{"category":"...","message":"...","errorId":"...","target":"...","reason":"...","exceptionType":"..."}}
        {"id":7,"ok":true,"results":[{"ok":true,"value":[...]},{"ok":false,"error":{...}},...]}   in the order of calls

    Safety rules this script keeps:
    - Only the cmdlets in $AllowedCmdlets run; Connect-ExchangeOnline loads only those (-CommandName).
    - Parameters are data: parsed with System.Text.Json, checked (names are identifiers, values are strings,
      numbers, booleans, null or arrays of those) and splatted (& $command @splat). No received value is ever
      turned into script text, so a value such as  x'; Remove-Mailbox -Identity admin -Confirm:$false #  or
      $(Stop-Process -Id $PID)  reaches the cmdlet verbatim and nothing else runs.
    - Secrets (the access token, a certificate password) arrive on stdin, never on the command line, and are
      masked in every message this script writes.
    - Non-terminating and terminating errors both come back as structured errors.

    With -Probe the script only reports pwsh's version and the installed module versions (sendasapp doctor).
#>
[CmdletBinding()]
param(
    # Report the PowerShell version and the installed ExchangeOnlineManagement versions as one JSON line, then exit.
    [switch] $Probe
)

Set-StrictMode -Version 1.0
$ErrorActionPreference = 'Stop'
$WarningPreference = 'SilentlyContinue'
# Global, so that the module's own functions see them too. No cmdlet may stop to ask for confirmation: there is
# nobody to answer (and -NonInteractive would fail the call); no progress bar may be drawn into the protocol.
$global:ConfirmPreference = 'None'
$global:ProgressPreference = 'SilentlyContinue'
$global:VerbosePreference = 'SilentlyContinue'
$global:DebugPreference = 'SilentlyContinue'

$script:ProtocolVersion = 1
$script:ModuleName = 'ExchangeOnlineManagement'
# sendasapp supports pwsh 7.4+. Module 3.1.0 brought -AccessToken; 4.x is not known yet.
$script:MinimumPwsh = [version]'7.4.0'
$script:ModuleMinimum = [version]'3.1.0'
$script:ModuleBelow = [version]'4.0.0'
$script:MaxDepth = 4

# The cmdlets sendasapp uses, and nothing else. src/exchange/pwsh/cmdlets.ts holds the same list (a test compares them).
$script:AllowedCmdlets = @(
    'Get-ServicePrincipal'
    'New-ServicePrincipal'
    'Remove-ServicePrincipal'
    'Get-MailboxPermission'
    'Add-MailboxPermission'
    'Remove-MailboxPermission'
    'Get-RecipientPermission'
    'Add-RecipientPermission'
    'Remove-RecipientPermission'
    'Get-CASMailbox'
    'Set-CASMailbox'
    'Get-TransportConfig'
    'Set-TransportConfig'
    'Get-OrganizationConfig'
    'Get-Mailbox'
    'Get-AcceptedDomain'
    'Get-DistributionGroup'
    'Get-DistributionGroupMember'
    'Get-ManagementScope'
    'New-ManagementScope'
    'Set-ManagementScope'
    'Remove-ManagementScope'
    'Get-ManagementRoleAssignment'
    'New-ManagementRoleAssignment'
    'Remove-ManagementRoleAssignment'
    'Test-ServicePrincipalAuthorization'
)

# Connect-ExchangeOnline parameters sendasapp may send. -ShowBanner:$false, -SkipLoadingFormatData and -CommandName
# are always set here.
$script:ConnectParameterNames = @(
    'AccessToken'
    'Organization'
    'DelegatedOrganization'
    'UserPrincipalName'
    'AppId'
    'CertificateFilePath'
    'CertificatePassword'
    'ManagedIdentity'
    'ManagedIdentityAccountId'
    'Device'
    'ExchangeEnvironmentName'
    'ConnectionUri'
    'AzureADAuthorizationEndpointUri'
)
$script:SwitchConnectParameters = @('ManagedIdentity', 'Device')
$script:SecretConnectParameters = @('AccessToken', 'CertificatePassword')

# Common parameters the bridge sets itself (or that would write outside the protocol): a request may not use them.
$script:ReservedParameters = @(
    'ErrorAction', 'ErrorVariable', 'WarningAction', 'WarningVariable', 'InformationAction', 'InformationVariable',
    'OutVariable', 'OutBuffer', 'PipelineVariable', 'Verbose', 'Debug', 'ProgressAction'
)

# Properties every remoting-style object carries that say nothing about Exchange.
$script:SkippedProperties = @('PSComputerName', 'RunspaceId', 'PSShowComputerName', 'PSSourceJobInstanceId')

$script:Secrets = [System.Collections.Generic.List[string]]::new()
$script:Connected = $false
$script:ExitCode = 0
$script:UseTextJson = $false

# ---- input and output -------------------------------------------------------------------------------------------

$script:Utf8 = [System.Text.UTF8Encoding]::new($false)
try { [Console]::InputEncoding = $script:Utf8 } catch { }
try { [Console]::OutputEncoding = $script:Utf8 } catch { }
$OutputEncoding = $script:Utf8

try {
    $null = [System.Reflection.Assembly]::Load('System.Text.Json')
    $script:UseTextJson = $true
} catch {
    $script:UseTextJson = $false
}

function Hide-Secret {
    param([string] $Text)
    if ([string]::IsNullOrEmpty($Text)) { return $Text }
    $out = $Text
    foreach ($secret in $script:Secrets) {
        if ($secret.Length -ge 4) { $out = $out.Replace($secret, '***') }
    }
    return $out
}

function Write-BridgeMessage {
    param([Parameter(Mandatory)] [System.Collections.IDictionary] $Message)
    $json = ConvertTo-Json -InputObject $Message -Depth 16 -Compress -EnumsAsStrings -EscapeHandling EscapeNonAscii -WarningAction SilentlyContinue
    [Console]::Out.WriteLine($json)
    [Console]::Out.Flush()
}

function ConvertFrom-JsonElement {
    param([System.Text.Json.JsonElement] $Element)
    switch ($Element.ValueKind.ToString()) {
        'Object' {
            $map = [ordered]@{}
            foreach ($property in $Element.EnumerateObject()) {
                $map[$property.Name] = ConvertFrom-JsonElement -Element $property.Value
            }
            return $map
        }
        'Array' {
            $items = [System.Collections.Generic.List[object]]::new()
            foreach ($item in $Element.EnumerateArray()) { $items.Add((ConvertFrom-JsonElement -Element $item)) }
            return , $items.ToArray()
        }
        'String' { return $Element.GetString() }
        'Number' {
            [long] $whole = 0
            if ($Element.TryGetInt64([ref] $whole)) { return $whole }
            return $Element.GetDouble()
        }
        'True' { return $true }
        'False' { return $false }
    }
    return $null
}

# One received line as a dictionary, or $null. System.Text.Json keeps every string a string (ConvertFrom-Json would
# turn date-like strings into DateTime values).
function ConvertFrom-BridgeJson {
    param([string] $Line)
    $value = $null
    try {
        if ($script:UseTextJson) {
            $document = [System.Text.Json.JsonDocument]::Parse($Line, [System.Text.Json.JsonDocumentOptions]::new())
            try { $value = ConvertFrom-JsonElement -Element $document.RootElement } finally { $document.Dispose() }
        } else {
            $value = ConvertFrom-Json -InputObject $Line -AsHashtable -Depth 16 -ErrorAction Stop
        }
    } catch {
        return $null
    }
    if ($value -is [System.Collections.IDictionary]) { return $value }
    return $null
}

# ---- values out ---------------------------------------------------------------------------------------------------

# A cmdlet's output as plain JSON data: scalars, arrays and dictionaries, at most $MaxDepth levels deep.
function ConvertTo-PlainValue {
    param($Value, [int] $Depth)
    if ($null -eq $Value) { return $null }
    if ($Value -is [string]) { return $Value }
    if ($Value -is [char]) { return [string] $Value }
    if ($Value -is [bool]) { return $Value }
    if ($Value -is [enum]) { return $Value.ToString() }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('o') }
    if ($Value -is [datetimeoffset]) { return $Value.ToString('o') }
    if ($Value -is [guid] -or $Value -is [timespan] -or $Value -is [version] -or $Value -is [uri]) { return $Value.ToString() }
    if ($Value -is [securestring]) { return '***' }
    if ($Value -is [System.ValueType]) {
        $code = [int][System.Type]::GetTypeCode($Value.GetType())
        # SByte (5) through Decimal (15) are numbers.
        if ($code -ge 5 -and $code -le 15) { return $Value }
        return $Value.ToString()
    }
    if ($Depth -ge $script:MaxDepth) { return [string] $Value }
    if ($Value -is [System.Collections.IDictionary]) {
        $map = [ordered]@{}
        foreach ($key in @($Value.Keys)) { $map[[string] $key] = ConvertTo-PlainValue -Value $Value[$key] -Depth ($Depth + 1) }
        return $map
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $Value) { $items.Add((ConvertTo-PlainValue -Value $item -Depth ($Depth + 1))) }
        return , $items.ToArray()
    }
    $map = [ordered]@{}
    foreach ($property in $Value.PSObject.Properties) {
        if (-not $property.IsGettable) { continue }
        if ($script:SkippedProperties -contains $property.Name) { continue }
        $propertyValue = $null
        try { $propertyValue = $property.Value } catch { $propertyValue = $null }
        $map[$property.Name] = ConvertTo-PlainValue -Value $propertyValue -Depth ($Depth + 1)
    }
    return $map
}

# ---- errors -------------------------------------------------------------------------------------------------------

function New-BridgeError {
    param([string] $ErrorId, [string] $Category, [string] $Message)
    return [ordered]@{
        category      = $Category
        message       = Hide-Secret $Message
        errorId       = $ErrorId
        target        = ''
        reason        = ''
        exceptionType = ''
    }
}

function ConvertTo-BridgeError {
    param($ErrorRecord)
    $record = $ErrorRecord
    if ($record -is [System.Management.Automation.ErrorRecord] -and
        $record.Exception -is [System.Management.Automation.ActionPreferenceStopException] -and
        $null -ne $record.Exception.ErrorRecord) {
        $record = $record.Exception.ErrorRecord
    }
    if ($record -isnot [System.Management.Automation.ErrorRecord]) {
        return New-BridgeError -ErrorId '' -Category 'NotSpecified' -Message ([string] $record)
    }
    $message = ''
    if ($null -ne $record.ErrorDetails -and -not [string]::IsNullOrWhiteSpace($record.ErrorDetails.Message)) {
        $message = $record.ErrorDetails.Message
    } elseif ($null -ne $record.Exception) {
        $message = $record.Exception.Message
    }
    $target = ''
    if ($null -ne $record.TargetObject -and
        ($record.TargetObject -is [string] -or $record.TargetObject -is [System.ValueType])) {
        $target = [string] $record.TargetObject
        if ($target.Length -gt 300) { $target = $target.Substring(0, 300) }
    }
    $exceptionType = ''
    if ($null -ne $record.Exception) { $exceptionType = $record.Exception.GetType().FullName }
    return [ordered]@{
        category      = $record.CategoryInfo.Category.ToString()
        message       = Hide-Secret ([string] $message)
        errorId       = Hide-Secret ([string] $record.FullyQualifiedErrorId)
        target        = Hide-Secret $target
        reason        = [string] $record.CategoryInfo.Reason
        exceptionType = $exceptionType
    }
}

function New-ErrorAnswer {
    param($Id, [System.Collections.IDictionary] $BridgeError, $Warnings)
    $answer = [ordered]@{ id = $Id; ok = $false; error = $BridgeError }
    $texts = @(Get-WarningText -Warnings $Warnings)
    if ($texts.Count -gt 0) { $answer['warnings'] = $texts }
    return $answer
}

function Get-WarningText {
    param($Warnings)
    if ($null -eq $Warnings) { return }
    foreach ($warning in $Warnings) {
        if ($null -eq $warning) { continue }
        if ($warning -is [System.Management.Automation.WarningRecord]) { Hide-Secret $warning.Message } else { Hide-Secret ([string] $warning) }
    }
}

# ---- versions -----------------------------------------------------------------------------------------------------

function Get-PwshVersion {
    $v = $PSVersionTable.PSVersion
    $patch = 0
    if ($null -ne $v.PSObject.Properties['Patch']) { $patch = [int] $v.Patch } elseif ($v.Build -gt 0) { $patch = $v.Build }
    return [version]::new([int] $v.Major, [int] $v.Minor, $patch)
}

# Module 3.10.0+ needs pwsh 7.6 (.NET 10); 3.5.0-3.9.2 needs 7.4 (.NET 8); older 3.x needs 7.2.
function Get-PwshNeededFor {
    param([version] $ModuleVersion)
    if ($ModuleVersion -ge [version]'3.10.0') { return [version]'7.6.0' }
    if ($ModuleVersion -ge [version]'3.5.0') { return [version]'7.4.0' }
    return [version]'7.2.0'
}

function Get-InstalledExchangeModule {
    foreach ($module in @(Get-Module -ListAvailable -Name $script:ModuleName -ErrorAction SilentlyContinue)) {
        $prerelease = ''
        try { $prerelease = [string] $module.PrivateData.PSData.Prerelease } catch { $prerelease = '' }
        [pscustomobject]@{ Version = $module.Version; Prerelease = $prerelease; Path = $module.Path }
    }
}

# Imports the newest installed module version in range that this pwsh can run.
function Import-ExchangeModule {
    $pwsh = Get-PwshVersion
    $found = @(Get-InstalledExchangeModule)
    $fits = @($found | Where-Object {
            $_.Version -ge $script:ModuleMinimum -and $_.Version -lt $script:ModuleBelow -and $pwsh -ge (Get-PwshNeededFor -ModuleVersion $_.Version)
        } | Sort-Object -Property Version -Descending)
    if ($fits.Count -eq 0) {
        $seen = if ($found.Count -eq 0) { 'none installed' } else {
            ($found | ForEach-Object { "$($_.Version) (needs pwsh $(Get-PwshNeededFor -ModuleVersion $_.Version))" }) -join ', '
        }
        return [ordered]@{
            ok    = $false
            error = New-BridgeError -ErrorId 'ModuleNotFound' -Category 'ObjectNotInstalled' -Message "ExchangeOnlineManagement >=$($script:ModuleMinimum) <$($script:ModuleBelow) that runs on pwsh $pwsh is not installed (found: $seen)"
        }
    }
    $pick = $fits[0]
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $null = Import-Module -Name $pick.Path -Global -PassThru -DisableNameChecking -ErrorAction Stop -WarningAction SilentlyContinue
    } catch {
        return [ordered]@{ ok = $false; error = ConvertTo-BridgeError $_ }
    }
    return [ordered]@{ ok = $true; version = $pick.Version.ToString(); ms = [int] $clock.ElapsedMilliseconds }
}

# ---- connect ------------------------------------------------------------------------------------------------------

function Find-AllowedCmdlet {
    param([string] $Name)
    foreach ($cmdlet in $script:AllowedCmdlets) {
        if ($cmdlet -ieq $Name) { return $cmdlet }
    }
    return $null
}

function Find-ConnectParameter {
    param([string] $Name)
    foreach ($parameter in $script:ConnectParameterNames) {
        if ($parameter -ieq $Name) { return $parameter }
    }
    return $null
}

# Connect-ExchangeOnline with the parameters of a connect message. Returns @{ ok; ms } or @{ ok = $false; error }.
function Connect-Bridge {
    param([System.Collections.IDictionary] $Message)
    $received = $Message['connect']
    if ($received -isnot [System.Collections.IDictionary]) {
        return [ordered]@{ ok = $false; error = New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'the connect message has no connect parameters' }
    }
    $splat = @{}
    foreach ($key in @($received.Keys)) {
        $name = Find-ConnectParameter -Name ([string] $key)
        if ($null -eq $name) {
            return [ordered]@{ ok = $false; error = New-BridgeError -ErrorId 'InvalidParameterName' -Category 'InvalidArgument' -Message "Connect-ExchangeOnline parameter '$key' is not accepted by the bridge" }
        }
        $value = $received[$key]
        if ($script:SwitchConnectParameters -contains $name) {
            $splat[$name] = [bool] $value
            continue
        }
        if ($value -isnot [string]) {
            return [ordered]@{ ok = $false; error = New-BridgeError -ErrorId 'InvalidParameterValue' -Category 'InvalidArgument' -Message "Connect-ExchangeOnline parameter $name must be a string" }
        }
        if ($script:SecretConnectParameters -contains $name) { $script:Secrets.Add($value) }
        if ($name -eq 'CertificatePassword') {
            $splat[$name] = ConvertTo-SecureString -String $value -AsPlainText -Force
        } else {
            $splat[$name] = $value
        }
    }
    $names = [System.Collections.Generic.List[string]]::new()
    foreach ($requested in @($Message['commandName'])) {
        $cmdlet = Find-AllowedCmdlet -Name ([string] $requested)
        if ($null -ne $cmdlet -and -not $names.Contains($cmdlet)) { $names.Add($cmdlet) }
    }
    if ($names.Count -eq 0) { foreach ($cmdlet in $script:AllowedCmdlets) { $names.Add($cmdlet) } }
    $splat['CommandName'] = [string[]] $names.ToArray()
    $splat['ShowBanner'] = $false
    $splat['SkipLoadingFormatData'] = $true

    if ($script:Connected) {
        # A fresh token for the same session: replace the connection rather than add a second one.
        try { Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue -WarningAction SilentlyContinue *> $null } catch { }
        $script:Connected = $false
    }
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $null = Connect-ExchangeOnline @splat -ErrorAction Stop -WarningAction SilentlyContinue
    } catch {
        return [ordered]@{ ok = $false; error = ConvertTo-BridgeError $_ }
    }
    $script:Connected = $true
    return [ordered]@{ ok = $true; ms = [int] $clock.ElapsedMilliseconds }
}

# ---- cmdlets ------------------------------------------------------------------------------------------------------

function Test-ParameterValue {
    param($Value)
    return ($null -eq $Value -or $Value -is [string] -or $Value -is [bool] -or $Value -is [long] -or
        $Value -is [int] -or $Value -is [double] -or $Value -is [decimal])
}

# Checks a request's parameters and builds the splatting table. Returns @{ splat } or @{ error }.
function ConvertTo-Splat {
    param($Parameters)
    $splat = @{}
    if ($null -eq $Parameters) { return [ordered]@{ splat = $splat; error = $null } }
    if ($Parameters -isnot [System.Collections.IDictionary]) {
        return [ordered]@{ splat = $null; error = New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'parameters must be a JSON object' }
    }
    foreach ($key in @($Parameters.Keys)) {
        $name = [string] $key
        if ($name -cnotmatch '^[A-Za-z][A-Za-z0-9]{0,63}$') {
            return [ordered]@{ splat = $null; error = New-BridgeError -ErrorId 'InvalidParameterName' -Category 'InvalidArgument' -Message 'a parameter name must be letters and digits' }
        }
        foreach ($reserved in $script:ReservedParameters) {
            if ($reserved -ieq $name) {
                return [ordered]@{ splat = $null; error = New-BridgeError -ErrorId 'ReservedParameter' -Category 'InvalidArgument' -Message "-$name is set by the bridge itself" }
            }
        }
        $value = $Parameters[$key]
        if ($value -is [System.Collections.IList]) {
            $items = [System.Collections.Generic.List[object]]::new()
            foreach ($item in $value) {
                if (-not (Test-ParameterValue -Value $item) -or $null -eq $item) {
                    return [ordered]@{ splat = $null; error = New-BridgeError -ErrorId 'InvalidParameterValue' -Category 'InvalidArgument' -Message "-$name must be a list of strings, numbers or booleans" }
                }
                $items.Add($item)
            }
            $splat[$name] = $items.ToArray()
        } elseif (Test-ParameterValue -Value $value) {
            $splat[$name] = $value
        } else {
            return [ordered]@{ splat = $null; error = New-BridgeError -ErrorId 'InvalidParameterValue' -Category 'InvalidArgument' -Message "-$name must be a string, a number, a boolean, null or a list" }
        }
    }
    return [ordered]@{ splat = $splat; error = $null }
}

function Invoke-BridgeRequest {
    param([System.Collections.IDictionary] $Request)
    $id = $Request['id']
    $name = Find-AllowedCmdlet -Name ([string] $Request['cmdlet'])
    if ($null -eq $name) {
        return New-ErrorAnswer -Id $id -BridgeError (New-BridgeError -ErrorId 'CmdletNotAllowed' -Category 'InvalidOperation' -Message 'this cmdlet is not one the bridge runs')
    }
    $checked = ConvertTo-Splat -Parameters $Request['parameters']
    if ($null -ne $checked['error']) { return New-ErrorAnswer -Id $id -BridgeError $checked['error'] }
    $splat = $checked['splat']
    $command = Get-Command -Name $name -CommandType Cmdlet, Function -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -eq $command) {
        # Connect-ExchangeOnline creates only the cmdlets the account's Exchange roles allow.
        return New-ErrorAnswer -Id $id -BridgeError (New-BridgeError -ErrorId 'CmdletNotAvailable' -Category 'PermissionDenied' -Message "$name is not available in this session: the signed-in account's Exchange roles do not include it")
    }
    $cmdletErrors = $null
    $cmdletWarnings = $null
    $output = $null
    try {
        $output = @(& $command @splat -ErrorAction Stop -ErrorVariable cmdletErrors -WarningAction SilentlyContinue -WarningVariable cmdletWarnings)
    } catch {
        return New-ErrorAnswer -Id $id -BridgeError (ConvertTo-BridgeError $_) -Warnings $cmdletWarnings
    }
    if ($null -ne $cmdletErrors -and $cmdletErrors.Count -gt 0) {
        return New-ErrorAnswer -Id $id -BridgeError (ConvertTo-BridgeError $cmdletErrors[0]) -Warnings $cmdletWarnings
    }
    $values = [System.Collections.Generic.List[object]]::new()
    foreach ($item in $output) {
        if ($null -ne $item) { $values.Add((ConvertTo-PlainValue -Value $item -Depth 0)) }
    }
    return [ordered]@{
        id       = $id
        ok       = $true
        value    = $values.ToArray()
        warnings = @(Get-WarningText -Warnings $cmdletWarnings)
    }
}

# ---- the session --------------------------------------------------------------------------------------------------

function Get-ProbeInfo {
    $modules = @(Get-InstalledExchangeModule | ForEach-Object {
            [ordered]@{ version = $_.Version.ToString(); prerelease = $_.Prerelease; path = $_.Path; needsPwsh = (Get-PwshNeededFor -ModuleVersion $_.Version).ToString() }
        })
    return [ordered]@{
        protocol  = $script:ProtocolVersion
        psVersion = $PSVersionTable.PSVersion.ToString()
        psEdition = [string] $PSVersionTable.PSEdition
        os        = [string] $PSVersionTable.OS
        modules   = $modules
    }
}

function Write-Probe {
    $info = Get-ProbeInfo
    $message = [ordered]@{ type = 'probe' }
    foreach ($key in $info.Keys) { $message[$key] = $info[$key] }
    Write-BridgeMessage $message
}

# The first line of a session, before anything is read: what this pwsh and its modules are (the same facts as
# -Probe), so that sendasapp decides with the process it will use, and no second pwsh is started to ask.
function Write-Hello {
    $info = Get-ProbeInfo
    $message = [ordered]@{ id = $null; ok = $true; type = 'hello' }
    foreach ($key in $info.Keys) { $message[$key] = $info[$key] }
    Write-BridgeMessage $message
}

function Write-Fatal {
    param($Id, [string] $Stage, [System.Collections.IDictionary] $BridgeError)
    $answer = New-ErrorAnswer -Id $Id -BridgeError $BridgeError
    $answer['fatal'] = $true
    $answer['stage'] = $Stage
    Write-BridgeMessage $answer
    [Console]::Error.WriteLine("bridge: $Stage failed: $($BridgeError['message'])")
}

# Several independent calls in one message: run in order, answered together (one answer per call, no ids).
function Invoke-BridgeBatch {
    param([System.Collections.IDictionary] $Message)
    $calls = $Message['calls']
    if ($calls -isnot [System.Collections.IList]) {
        return New-ErrorAnswer -Id $Message['id'] -BridgeError (New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'a batch needs a list of calls')
    }
    $results = [System.Collections.Generic.List[object]]::new()
    foreach ($call in $calls) {
        if ($call -isnot [System.Collections.IDictionary]) {
            $results.Add((New-ErrorAnswer -Id $null -BridgeError (New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'a call must be a JSON object')))
            continue
        }
        $answer = Invoke-BridgeRequest -Request $call
        $answer.Remove('id')
        $results.Add($answer)
    }
    return [ordered]@{ id = $Message['id']; ok = $true; results = $results.ToArray() }
}

function Invoke-Session {
    Write-Hello
    # The module is imported while sendasapp is still signing in: the first line (connect) waits for its token.
    $pwsh = Get-PwshVersion
    $import = $null
    if ($pwsh -ge $script:MinimumPwsh) { $import = Import-ExchangeModule }
    $first = [Console]::In.ReadLine()
    if ($null -eq $first) { $script:ExitCode = 0; return }
    $message = ConvertFrom-BridgeJson -Line $first
    $id = $null
    if ($null -ne $message) { $id = $message['id'] }
    if ($null -eq $message -or [string] $message['type'] -ne 'connect') {
        Write-Fatal -Id $id -Stage 'input' -BridgeError (New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'the first line must be a connect message')
        $script:ExitCode = 2
        return
    }
    if ($pwsh -lt $script:MinimumPwsh) {
        Write-Fatal -Id $id -Stage 'pwsh' -BridgeError (New-BridgeError -ErrorId 'PwshTooOld' -Category 'NotInstalled' -Message "PowerShell $pwsh is too old: sendasapp needs $($script:MinimumPwsh) or later")
        $script:ExitCode = 3
        return
    }
    if (-not $import['ok']) {
        Write-Fatal -Id $id -Stage 'module' -BridgeError $import['error']
        $script:ExitCode = 4
        return
    }
    $connect = Connect-Bridge -Message $message
    if (-not $connect['ok']) {
        Write-Fatal -Id $id -Stage 'connect' -BridgeError $connect['error']
        $script:ExitCode = 5
        return
    }
    Write-BridgeMessage ([ordered]@{
            id            = $id
            ok            = $true
            value         = @()
            protocol      = $script:ProtocolVersion
            psVersion     = $PSVersionTable.PSVersion.ToString()
            moduleVersion = $import['version']
            importMs      = $import['ms']
            connectMs     = $connect['ms']
        })

    while ($true) {
        $line = [Console]::In.ReadLine()
        if ($null -eq $line) { break }
        if ([string]::IsNullOrWhiteSpace($line)) { continue }
        $request = ConvertFrom-BridgeJson -Line $line
        if ($null -eq $request) {
            Write-BridgeMessage (New-ErrorAnswer -Id $null -BridgeError (New-BridgeError -ErrorId 'BadRequest' -Category 'InvalidArgument' -Message 'a request line must be a JSON object'))
            continue
        }
        $type = [string] $request['type']
        if ($type -eq 'connect') {
            $again = Connect-Bridge -Message $request
            if ($again['ok']) {
                Write-BridgeMessage ([ordered]@{ id = $request['id']; ok = $true; value = @(); connectMs = $again['ms'] })
            } else {
                Write-BridgeMessage (New-ErrorAnswer -Id $request['id'] -BridgeError $again['error'])
            }
            continue
        }
        if ($type -eq 'many') {
            Write-BridgeMessage (Invoke-BridgeBatch -Message $request)
            continue
        }
        Write-BridgeMessage (Invoke-BridgeRequest -Request $request)
    }
    $script:ExitCode = 0
}

# Dot-sourced (". bridge.ps1", as the Pester tests do): only the functions above are defined, nothing runs.
if ($MyInvocation.InvocationName -eq '.') { return }

try {
    if ($Probe) {
        Write-Probe
    } else {
        Invoke-Session
    }
} catch {
    # A failure of the bridge itself (not of a cmdlet): report it on stderr, masked, and exit non-zero.
    [Console]::Error.WriteLine('bridge: ' + (Hide-Secret ([string] $_)))
    $script:ExitCode = 1
} finally {
    # On EOF, on an error and on Ctrl-C alike.
    if ($script:Connected) {
        try { Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue -WarningAction SilentlyContinue *> $null } catch { }
        $script:Connected = $false
    }
}
exit $script:ExitCode
