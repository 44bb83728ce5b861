/**
 * `sendasapp demo`: starts the emulator in a temp dir and runs the whole job against its default world — then
 * runs it again to show that a rerun changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator } from '../emulator/index.js';
import { applyCommand } from './provision-commands.js';
import { ExitCode } from './exit-codes.js';

export async function demoCommand(flags: { output?: string; keep?: boolean }): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-demo-'));
  const emu = await startEmulator({ port: 0, stateDir: path.join(dir, 'emulator') });
  const say = (l: string): void => void process.stderr.write(l + '\n');
  try {
    const tenant = emu.endpoints.tenants[0]!;
    const mailboxes = tenant.mailboxes.filter((m) => /^(scanner|ap)@/.test(m));
    say(
      `sendasapp demo — a Microsoft 365 emulator is running at ${emu.endpoints.authorityHost} (tenants: ${emu.endpoints.tenants.map((t) => t.domain).join(', ')}).`,
    );
    say(`Making ${tenant.domain} ready for an app to send as ${mailboxes.join(' and ')} over SMTP XOAUTH2:\n`);
    const flagsFor = {
      endpoints: emu.endpointsFile,
      tenant: tenant.domain,
      mailbox: mailboxes,
      appName: 'Demo scanner SMTP',
      enableSmtpAuth: 'mailbox',
      secretOut: path.join(dir, 'secret.json'),
      wait: '2m',
      yes: true,
      output: flags.output,
    };
    const first = await applyCommand({ ...flagsFor });
    if (first !== ExitCode.ok) return first;
    const before = emu.store.log.length;
    say(`\nRunning apply again (what a nightly pipeline does):\n`);
    const second = await applyCommand({ ...flagsFor, output: 'text' });
    const rerun = emu.store.log.slice(before);
    const writes = rerun.filter((e) => e.write && e.service !== 'token' && e.service !== 'smtp').length;
    // Requests on the wire: a $batch is one request; its items are logged as `…#item` and counted as cmdlets.
    const wire = (service: string): number =>
      rerun.filter((e) => e.service === service && !e.path.endsWith('#item')).length;
    const cmdlets = rerun.filter((e) => e.service === 'exchange' && e.cmdlet).length;
    say(
      `\nThe rerun sent ${wire('graph')} Graph and ${wire('exchange')} Exchange requests (${cmdlets} cmdlets, batched); ${writes} writes.`,
    );
    if (flags.keep)
      say(
        `The secret is in ${flagsFor.secretOut} (mode 0600). The emulator's state is in ${path.join(dir, 'emulator')}.`,
      );
    else say(`The demo's folder (the secret and the emulator's state) is removed; --keep keeps it.`);
    return second;
  } finally {
    await emu.stop();
    // The demo's secret and keys are not left behind in the temp folder unless asked for.
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  }
}
