# TEST DOUBLE of Microsoft's ExchangeOnlineManagement module, for sendasapp's tests only. It has the same name so that
# templates/exchange/bridge.ps1 runs unchanged; every cmdlet forwards to the sendasapp emulator's InvokeCommand
# endpoint. Put test/pwsh first on PSModulePath to use it. Never install it for real work.
@{
    RootModule        = 'ExchangeOnlineManagement.psm1'
    ModuleVersion     = '3.9.2'
    GUID              = '6e4f6a2c-5b8e-4c1d-9a57-2f3c0d8e1b44'
    Author            = 'sendasapp tests'
    CompanyName       = 'sendasapp'
    Copyright         = 'MIT'
    Description       = 'Test double of ExchangeOnlineManagement: forwards cmdlets to the sendasapp emulator (InvokeCommand).'
    PowerShellVersion = '7.4'
    # As with the real module, the Exchange cmdlets are created by Connect-ExchangeOnline (a temporary module).
    FunctionsToExport = @('Connect-ExchangeOnline', 'Disconnect-ExchangeOnline')
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
    PrivateData       = @{
        PSData = @{
            Tags       = @('sendasapp', 'test')
            Prerelease = ''
        }
    }
}
