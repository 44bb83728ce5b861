# Pester 5 tests of the stand-in module test/pwsh/ExchangeOnlineManagement against a running emulator: it must
# behave like the real ExchangeOnlineManagement 3.x where sendasapp's backend depends on it. Run by
# test/exchange/pester.test.ts, which starts the emulator and passes SENDASAPP_PESTER_EXO_URI, _ORG and _TOKEN.

BeforeAll {
    $ErrorActionPreference = 'Continue'
    $script:Uri = $env:SENDASAPP_PESTER_EXO_URI
    $script:Org = $env:SENDASAPP_PESTER_EXO_ORG
    $script:Token = $env:SENDASAPP_PESTER_EXO_TOKEN
    if ([string]::IsNullOrEmpty($script:Uri)) { throw 'SENDASAPP_PESTER_EXO_URI is not set (run through test/exchange/pester.test.ts)' }
    Import-Module (Join-Path $PSScriptRoot 'ExchangeOnlineManagement' 'ExchangeOnlineManagement.psd1') -Force
    function script:Connect-Test {
        param([string[]] $CommandName)
        Connect-ExchangeOnline -AccessToken $script:Token -Organization $script:Org -ConnectionUri $script:Uri -CommandName $CommandName -ShowBanner:$false -SkipLoadingFormatData
    }
}

AfterAll {
    Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module ExchangeOnlineManagement -Force -ErrorAction SilentlyContinue
}

Describe 'cmdlets are created at Connect time' {
    It 'exports only Connect/Disconnect before a connection: Get-Mailbox does not exist yet' {
        Disconnect-ExchangeOnline -Confirm:$false
        (Get-Command -Module ExchangeOnlineManagement).Name | Sort-Object | Should -Be @('Connect-ExchangeOnline', 'Disconnect-ExchangeOnline')
        Get-Command -Name Get-Mailbox -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'creates exactly the -CommandName cmdlets in a temporary module, and Disconnect removes them' {
        Connect-Test -CommandName @('Get-Mailbox', 'Get-OrganizationConfig')
        $command = Get-Command -Name Get-Mailbox
        $command.ModuleName | Should -Match '^tmpEXO_'
        Get-Command -Name Get-OrganizationConfig | Should -Not -BeNullOrEmpty
        Get-Command -Name Get-CASMailbox -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Disconnect-ExchangeOnline -Confirm:$false
        Get-Command -Name Get-Mailbox -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'errors as the real module writes them' {
    BeforeAll { Connect-Test -CommandName @('Get-Mailbox', 'Get-TransportConfig') }

    It 'is non-terminating by default: the script goes on, the error is in -ErrorVariable' {
        $after = $false
        $rows = Get-Mailbox -Identity 'nobody@contoso.onmicrosoft.com' -ErrorVariable failures -ErrorAction SilentlyContinue
        $after = $true
        $after | Should -BeTrue
        $rows | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
    }

    It 'is terminating with -ErrorAction Stop' {
        { Get-Mailbox -Identity 'nobody@contoso.onmicrosoft.com' -ErrorAction Stop } | Should -Throw
    }

    It 'has the real shape: NotSpecified: (:) [Get-Mailbox], <ExceptionType>; server stamp,Write-ErrorMessage; Ex<hex>|<Type>|<text>' {
        $record = $null
        try { Get-Mailbox -Identity 'nobody@contoso.onmicrosoft.com' -ErrorAction Stop } catch { $record = $_ }
        $record.CategoryInfo.ToString() | Should -BeExactly 'NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException'
        $record.FullyQualifiedErrorId | Should -Match '^\[Server=[^,\]]+,RequestId=[0-9a-f-]{36},TimeStamp=[^\]]+\],Write-ErrorMessage$'
        $record.Exception.Message | Should -Match "^Ex[0-9A-F]{6}\|Microsoft\.Exchange\.Configuration\.Tasks\.ManagementObjectNotFoundException\|The operation couldn't be performed because object 'nobody@contoso\.onmicrosoft\.com' couldn't be found"
        $record.Exception.GetType().FullName | Should -BeExactly 'System.Exception'
    }

    It 'writes access-denied the same way (an app without the Exchange role)' {
        Disconnect-ExchangeOnline -Confirm:$false
        Connect-ExchangeOnline -AccessToken $env:SENDASAPP_PESTER_EXO_STRANGER_TOKEN -Organization $script:Org -ConnectionUri $script:Uri -CommandName @('Get-TransportConfig') -ShowBanner:$false
        $record = $null
        try { Get-TransportConfig -ErrorAction Stop } catch { $record = $_ }
        $record | Should -Not -BeNullOrEmpty
        $record.CategoryInfo.Category | Should -Be 'NotSpecified'
        $record.CategoryInfo.Activity | Should -BeExactly 'Get-TransportConfig'
        $record.CategoryInfo.Reason | Should -Match 'AccessDenied'
        $record.FullyQualifiedErrorId | Should -Match ',Write-ErrorMessage$'
        Disconnect-ExchangeOnline -Confirm:$false
        Connect-Test -CommandName @('Get-Mailbox', 'Get-TransportConfig')
    }

    It 'returns rows as objects with the service''s property names' {
        $row = Get-TransportConfig
        $row.PSObject.Properties.Name | Should -Contain 'SmtpClientAuthenticationDisabled'
    }
}
