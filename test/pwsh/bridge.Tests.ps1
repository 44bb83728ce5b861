# Pester 5 tests of templates/exchange/bridge.ps1's Exchange-free parts: JSON parsing, the cmdlet whitelist,
# splatting (values stay data), error shaping and masking, and the 'many' message. The bridge is dot-sourced: its
# functions are defined, nothing runs. Run by test/exchange/pester.test.ts (npm test).

BeforeAll {
    $bridge = Join-Path $PSScriptRoot '..' '..' 'templates' 'exchange' 'bridge.ps1'
    . $bridge
    # The bridge sets Stop for its own session; the tests set their own expectations.
    $ErrorActionPreference = 'Continue'
}

Describe 'ConvertFrom-BridgeJson' {
    It 'reads an object as a dictionary, keeping date-like strings as strings and whole numbers as Int64' {
        $m = ConvertFrom-BridgeJson -Line '{"id":3,"cmdlet":"Get-Mailbox","parameters":{"Identity":"2026-01-02T03:04:05Z","ResultSize":5,"Flag":true,"None":null,"List":["a","b"]}}'
        $m | Should -BeOfType [System.Collections.IDictionary]
        $m['id'] | Should -Be 3
        $m['id'] | Should -BeOfType [long]
        $p = $m['parameters']
        $p['Identity'] | Should -BeOfType [string]
        $p['Identity'] | Should -BeExactly '2026-01-02T03:04:05Z'
        $p['ResultSize'] | Should -Be 5
        $p['Flag'] | Should -BeTrue
        $p['None'] | Should -BeNullOrEmpty
        $p['List'] | Should -Be @('a', 'b')
    }

    It 'returns $null for a line that is not a JSON object' {
        ConvertFrom-BridgeJson -Line 'not json' | Should -BeNullOrEmpty
        ConvertFrom-BridgeJson -Line '[1,2]' | Should -BeNullOrEmpty
        ConvertFrom-BridgeJson -Line '"text"' | Should -BeNullOrEmpty
        ConvertFrom-BridgeJson -Line '{"id":' | Should -BeNullOrEmpty
    }

    It 'reads \u escapes back to the characters (the protocol is ASCII on the wire)' {
        (ConvertFrom-BridgeJson -Line '{"v":"M\u00fcller \u2013 \u00e9"}')['v'] | Should -BeExactly 'Müller – é'
    }
}

Describe 'the cmdlet whitelist' {
    It 'knows each allowed cmdlet case-insensitively, by its canonical name' {
        Find-AllowedCmdlet -Name 'get-mailbox' | Should -BeExactly 'Get-Mailbox'
        Find-AllowedCmdlet -Name 'NEW-MANAGEMENTSCOPE' | Should -BeExactly 'New-ManagementScope'
    }

    It 'knows no other command' {
        foreach ($name in @('Remove-Mailbox', 'Invoke-Expression', 'Get-Mailbox; Remove-Mailbox', 'Get-Mailbox ', '', 'Stop-Process')) {
            Find-AllowedCmdlet -Name $name | Should -BeNullOrEmpty -Because $name
        }
    }

    It 'refuses a request for another cmdlet before looking anything up' {
        $answer = Invoke-BridgeRequest -Request ([ordered]@{ id = 5; cmdlet = 'Remove-Mailbox'; parameters = @{ Identity = 'admin' } })
        $answer['ok'] | Should -BeFalse
        $answer['error']['errorId'] | Should -BeExactly 'CmdletNotAllowed'
    }
}

Describe 'ConvertTo-Splat' {
    It 'passes injection strings through verbatim, as values' {
        $values = @("x'; Remove-Mailbox -Identity admin -Confirm:`$false #", '$(Stop-Process -Id $PID)', '`"; exit 1; "')
        foreach ($value in $values) {
            $checked = ConvertTo-Splat -Parameters ([ordered]@{ Identity = $value })
            $checked['error'] | Should -BeNullOrEmpty
            $checked['splat']['Identity'] | Should -BeExactly $value
        }
    }

    It 'keeps lists as arrays and accepts strings, numbers, booleans and null' {
        $checked = ConvertTo-Splat -Parameters ([ordered]@{ AccessRights = @('FullAccess'); AutoMapping = $false; ResultSize = [long] 10; SmtpClientAuthenticationDisabled = $null })
        $checked['error'] | Should -BeNullOrEmpty
        , $checked['splat']['AccessRights'] | Should -BeOfType [object[]]
        $checked['splat']['AccessRights'] | Should -Be @('FullAccess')
        $checked['splat']['AutoMapping'] | Should -BeFalse
        $checked['splat'].ContainsKey('SmtpClientAuthenticationDisabled') | Should -BeTrue
    }

    It 'refuses parameter names that are not identifiers' {
        foreach ($name in @('Identity; Remove-Mailbox', '-Identity', 'a b', '1x', '$x', '')) {
            (ConvertTo-Splat -Parameters ([ordered]@{ $name = 'v' }))['error']['errorId'] | Should -BeExactly 'InvalidParameterName' -Because $name
        }
    }

    It 'refuses the common parameters the bridge sets itself' {
        foreach ($name in @('ErrorAction', 'erroraction', 'WarningVariable', 'OutVariable', 'Verbose')) {
            (ConvertTo-Splat -Parameters ([ordered]@{ $name = 'x' }))['error']['errorId'] | Should -BeExactly 'ReservedParameter' -Because $name
        }
    }

    It 'refuses objects and nested lists as values' {
        (ConvertTo-Splat -Parameters ([ordered]@{ Identity = [ordered]@{ a = 1 } }))['error']['errorId'] | Should -BeExactly 'InvalidParameterValue'
        (ConvertTo-Splat -Parameters ([ordered]@{ Identity = @(, @('a')) }))['error']['errorId'] | Should -BeExactly 'InvalidParameterValue'
        (ConvertTo-Splat -Parameters ([ordered]@{ Identity = @('a', $null) }))['error']['errorId'] | Should -BeExactly 'InvalidParameterValue'
        (ConvertTo-Splat -Parameters 'text')['error']['errorId'] | Should -BeExactly 'BadRequest'
    }
}

Describe 'Invoke-BridgeRequest splatting' {
    BeforeEach {
        # A stand-in for the cmdlet the whitelist names: records what it was given.
        $global:BridgeTestCalls = [System.Collections.Generic.List[object]]::new()
        function global:Get-Mailbox {
            [CmdletBinding()]
            param([string] $Identity, [object] $ResultSize)
            $global:BridgeTestCalls.Add([ordered]@{ Identity = $Identity; ResultSize = $ResultSize })
            if ($Identity -eq 'missing') {
                $record = [System.Management.Automation.ErrorRecord]::new([System.Exception]::new("Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'missing' couldn't be found."), '[Server=T,RequestId=1,TimeStamp=2]', 'NotSpecified', $null)
                $record.CategoryInfo.Reason = 'ManagementObjectNotFoundException'
                $PSCmdlet.WriteError($record)
                return
            }
            [pscustomobject]@{ PrimarySmtpAddress = $Identity; RunspaceId = [guid]::NewGuid(); WhenCreated = [datetime]::new(2026, 1, 2, 3, 4, 5, [System.DateTimeKind]::Utc) }
        }
    }
    AfterEach {
        Remove-Item -Path function:global:Get-Mailbox -ErrorAction SilentlyContinue
    }

    It 'splats the values to the one whitelisted command, and nothing else runs' {
        $value = '$(Stop-Process -Id $PID)'
        $answer = Invoke-BridgeRequest -Request ([ordered]@{ id = 7; cmdlet = 'get-mailbox'; parameters = [ordered]@{ Identity = $value; ResultSize = 'Unlimited' } })
        $answer['ok'] | Should -BeTrue
        $answer['id'] | Should -Be 7
        $global:BridgeTestCalls.Count | Should -Be 1
        $global:BridgeTestCalls[0]['Identity'] | Should -BeExactly $value
        $global:BridgeTestCalls[0]['ResultSize'] | Should -BeExactly 'Unlimited'
        $row = $answer['value'][0]
        $row['PrimarySmtpAddress'] | Should -BeExactly $value
        $row.Contains('RunspaceId') | Should -BeFalse
        $row['WhenCreated'] | Should -BeExactly '2026-01-02T03:04:05.0000000Z'
    }

    It 'turns the cmdlet''s non-terminating error into a structured error answer' {
        $answer = Invoke-BridgeRequest -Request ([ordered]@{ id = 8; cmdlet = 'Get-Mailbox'; parameters = @{ Identity = 'missing' } })
        $answer['ok'] | Should -BeFalse
        $e = $answer['error']
        $e['category'] | Should -BeExactly 'NotSpecified'
        $e['reason'] | Should -BeExactly 'ManagementObjectNotFoundException'
        $e['errorId'] | Should -Match '^\[Server=T,RequestId=1,TimeStamp=2\],Get-Mailbox$'
        $e['message'] | Should -Match '^Ex6F9304\|Microsoft\.Exchange\.Configuration\.Tasks\.ManagementObjectNotFoundException\|'
        $e['exceptionType'] | Should -BeExactly 'System.Exception'
    }

    It 'answers a many message in order, one result per call, ids dropped' {
        $answer = Invoke-BridgeBatch -Message ([ordered]@{ id = 9; type = 'many'; calls = @(
                    [ordered]@{ cmdlet = 'Get-Mailbox'; parameters = @{ Identity = 'a@x' } },
                    [ordered]@{ cmdlet = 'Get-Mailbox'; parameters = @{ Identity = 'missing' } },
                    [ordered]@{ cmdlet = 'Remove-Mailbox'; parameters = @{ Identity = 'admin' } },
                    'not an object'
                ) })
        $answer['id'] | Should -Be 9
        $answer['ok'] | Should -BeTrue
        $r = $answer['results']
        $r.Count | Should -Be 4
        $r[0]['ok'] | Should -BeTrue
        $r[0].Contains('id') | Should -BeFalse
        $r[0]['value'][0]['PrimarySmtpAddress'] | Should -BeExactly 'a@x'
        $r[1]['error']['reason'] | Should -BeExactly 'ManagementObjectNotFoundException'
        $r[2]['error']['errorId'] | Should -BeExactly 'CmdletNotAllowed'
        $r[3]['error']['errorId'] | Should -BeExactly 'BadRequest'
        ($global:BridgeTestCalls | ForEach-Object { $_['Identity'] }) | Should -Be @('a@x', 'missing')
    }
}

Describe 'error shaping and masking' {
    AfterEach { $script:Secrets.Clear() }

    It 'unwraps -ErrorAction Stop to the original record' {
        function global:Test-BridgeDenied {
            [CmdletBinding()]
            param()
            $inner = [System.Management.Automation.ErrorRecord]::new([System.Exception]::new('|T.AccessDeniedException|nope'), 'Denied', 'PermissionDenied', 'target')
            $inner.CategoryInfo.Reason = 'CmdletAccessDeniedException'
            $PSCmdlet.WriteError($inner)
        }
        $record = $null
        try { Test-BridgeDenied -ErrorAction Stop } catch { $record = $_ }
        Remove-Item -Path function:global:Test-BridgeDenied
        $shaped = ConvertTo-BridgeError $record
        $shaped['category'] | Should -BeExactly 'PermissionDenied'
        $shaped['reason'] | Should -BeExactly 'CmdletAccessDeniedException'
        $shaped['target'] | Should -BeExactly 'target'
    }

    It 'masks every known secret in message, id and target' {
        $script:Secrets.Add('eyJsecret-token-value')
        $record = [System.Management.Automation.ErrorRecord]::new([System.Exception]::new('token eyJsecret-token-value refused'), 'id-eyJsecret-token-value', 'AuthenticationError', 'eyJsecret-token-value')
        $shaped = ConvertTo-BridgeError $record
        ($shaped.Values -join ' ') | Should -Not -Match 'eyJsecret-token-value'
        $shaped['message'] | Should -BeExactly 'token *** refused'
    }

    It 'writes protocol lines as ASCII JSON with non-ASCII escaped' {
        $out = [System.IO.StringWriter]::new()
        $old = [Console]::Out
        [Console]::SetOut($out)
        try { Write-BridgeMessage ([ordered]@{ id = 1; ok = $true; value = @('Müller') }) } finally { [Console]::SetOut($old) }
        $line = $out.ToString().Trim()
        $line | Should -BeExactly '{"id":1,"ok":true,"value":["M\u00fcller"]}'
    }
}

Describe 'the hello line' {
    It 'carries pwsh''s version and the installed module versions, like -Probe' {
        $info = Get-ProbeInfo
        $info['psVersion'] | Should -Not -BeNullOrEmpty
        $info['protocol'] | Should -Be 1
        , $info['modules'] | Should -BeOfType [object[]]
    }
}
