# TEST DOUBLE, part of test/pwsh/ExchangeOnlineManagement. Connect-ExchangeOnline copies this file to
# $env:TEMP/tmpEXO_<random>/tmpEXO_<random>.psm1 and imports it globally, as the real module does with the module it
# generates: the cmdlets of Cmdlets.ps1, only the -CommandName ones exported.
param($Parent, [string[]] $CommandNames, [string] $CmdletsFile)

$script:Parent = $Parent
. $CmdletsFile
Export-ModuleMember -Function $CommandNames
