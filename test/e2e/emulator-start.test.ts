/**
 * `sendasapp emulator start` takes the realism knobs as flags — the newer ones too (Exchange's replication delay,
 * the SMTP connection and continuous-error limits) — and refuses a bad value with exit 2 naming the flag.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { CLI_PATH, runCli } from '../helpers/cli.js';

describe('emulator start flags', () => {
  it('sets the Exchange replication delay and the SMTP limits from its flags', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        'emulator',
        'start',
        '--port',
        '0',
        '--output',
        'json',
        '--exchange-replication-delay',
        '750',
        '--smtp-connection-limit',
        '2',
        '--smtp-error-limit',
        '5',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const nl = buf.indexOf('\n');
          if (nl >= 0) resolve(buf.slice(0, nl));
        });
        child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
      });
      const e = JSON.parse(line) as { controlUrl: string; caFile: string; operator: { clientSecret: string } };
      const dispatcher = new Agent({ connect: { ca: readFileSync(e.caFile, 'utf8') } });
      const res = await fetch(`${e.controlUrl}/knobs`, {
        headers: { 'X-Emulator-Key': e.operator.clientSecret },
        dispatcher,
      } as RequestInit);
      const knobs = (await res.json()) as {
        exchangeReplicationDelayMs: number | null;
        smtpLimits: { concurrentConnectionsPerMailbox: number; continuousErrorLimit: number };
      };
      await dispatcher.close();
      expect(knobs.exchangeReplicationDelayMs).toBe(750);
      expect(knobs.smtpLimits.concurrentConnectionsPerMailbox).toBe(2);
      expect(knobs.smtpLimits.continuousErrorLimit).toBe(5);
    } finally {
      child.kill('SIGINT');
    }
  });

  it('refuses a bad value with exit 2 naming the flag', async () => {
    const r = await runCli(['emulator', 'start', '--port', '0', '--smtp-connection-limit', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--smtp-connection-limit');
  });
});
