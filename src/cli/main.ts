#!/usr/bin/env node
/**
 * sendasapp: the command-line entry. Commands are loaded lazily so that `--help` starts fast.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';

const program = new Command();
program
  .name('sendasapp')
  .description(
    'Make a Microsoft 365 tenant ready for an app to send mail through smtp.office365.com with OAuth 2.0\n' +
      'client credentials (SMTP AUTH XOAUTH2, SMTP.SendAsApp), and prove it with a real XOAUTH2 login.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });

const emulator = program
  .command('emulator')
  .description('A Microsoft 365 tenant emulator on loopback (token service, Graph, Exchange admin, SMTP).');
emulator
  .command('start')
  .description(
    'Start the emulator in the foreground; Ctrl-C stops it. Writes DIR/endpoints.json (the cloud profile for --endpoints).',
  )
  .option('--port <port>', 'HTTPS port (0 = any free port)', '8443')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--state-dir <dir>', 'holds the CA, keys and persisted state (default: a new temp dir)')
  .option('--seed <file>', 'JSON or YAML seed describing tenants, mailboxes, groups and knobs')
  .option('--cert-hostnames <names>', 'extra DNS names for the TLS certificate, comma-separated')
  .option('--smtp-port <port>', 'SMTP port (default: port+1, or any free port with --port 0)')
  .option('--latency <spec>', 'added latency per service in ms, e.g. graph=120,token=150,exchange=600,smtp=300')
  .option('--replication-delay <ms>', 'a new directory object stays invisible to reads for this long')
  .option('--permission-cache <seconds>', 'SMTP answers 535 5.7.3 for this long after an Exchange grant')
  .option('--throttle-every <n>', 'answer every Nth Graph/Exchange call with 429 and Retry-After')
  .option('--fault <spec...>', 'inject a one-shot fault: service:call:kind, kind 503|reset|hang (e.g. graph:3:503)')
  .option('--max-secret-lifetime <days>', 'tenant policy: the longest client secret lifetime allowed, in days')
  .option('--security-defaults', 'tenant policy: security defaults on (SMTP AUTH refused)')
  .option('--deny-consent', 'the emulated admin declines admin-consent requests')
  .addOption(
    new Option('--output <format>', 'text or json (one line with the endpoints on stdout)')
      .choices(['text', 'json'])
      .default('text'),
  )
  .action(async (opts) => {
    const { emulatorStart } = await import('./emulator-start.js');
    await emulatorStart(opts);
  });

/** Waits until everything written to a stream has been handed to the OS (pipes are asynchronous in Node). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

function withExit(fn: (flags: Record<string, unknown>) => Promise<number>) {
  return async (flags: Record<string, unknown>) => {
    const code = await fn(flags);
    // The command is done: exit now rather than wait for lingering sockets (an SMTP QUIT's reply, keep-alive
    // connections) to close on their own.
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit(code);
  };
}

const lazyOptions = async (cmd: Command, only?: string[]): Promise<Command> => {
  const { addProvisionOptions } = await import('./options.js');
  return addProvisionOptions(cmd, only);
};

async function registerTenantCommands(): Promise<void> {
  const plan = program
    .command('plan')
    .description('Read the tenant and print what apply would change, writing nothing.')
    .option('--detailed-exitcode', 'exit 0 when nothing would change, 4 when changes are pending');
  await lazyOptions(plan);
  plan.action(withExit(async (f) => (await import('./provision-commands.js')).planCommand(f)));

  const apply = program
    .command('apply')
    .description(
      'Make the tenant ready (app, credential, service principal, consent, Exchange, SMTP AUTH), then prove it with an XOAUTH2 login.',
    )
    .option('-y, --yes', 'do not ask for confirmation (never asked without a TTY)');
  await lazyOptions(apply);
  apply.action(withExit(async (f) => (await import('./provision-commands.js')).applyCommand(f)));

  const handoff = program
    .command('handoff')
    .description(
      'Read the tenant and print what the sending system needs (--target business-central, enaio-server, enaio-webclient, xeams, postfix, env, json), in the words of its setup screen.',
    );
  await lazyOptions(handoff);
  handoff.action(withExit(async (f) => (await import('./handoff-command.js')).handoffCommand(f)));

  const setup = program
    .command('setup')
    .description(
      'The prompted setup for people: asks, shows the plan, applies, proves, hands off, and writes the config file for `apply -f`.',
    );
  await lazyOptions(setup);
  setup.action(withExit(async (f) => (await import('./setup-command.js')).setupCommand(f)));

  const status = program
    .command('status')
    .description('Read-only report of every resource, drift against the configuration, and credential expiry.')
    .option('--detailed-exitcode', 'exit 4 when something differs from the configuration');
  await lazyOptions(status);
  status.action(withExit(async (f) => (await import('./provision-commands.js')).statusCommand(f)));

  const verify = program
    .command('verify')
    .description(
      'Only the proof: token, claims and an SMTP XOAUTH2 login (a test message with --send-to), for an app whose credential you hold.',
    )
    .option('--client-id <guid>', 'the application (client) id')
    .option('--secret-file <file>', 'a file holding the client secret (or the --secret-out file of apply)')
    .option('--certificate <file>', 'a PEM file with the private key and certificate')
    .option('--rbac', 'the app is authorized by Exchange RBAC (no roles claim expected)');
  await lazyOptions(verify, [
    'tenant',
    'mailboxes',
    'sendTo',
    'wait',
    'cloud',
    'endpoints',
    'output',
    'appId',
    'mailboxAccess',
  ]);
  verify.action(withExit(async (f) => (await import('./verify-command.js')).verifyCommand(f)));

  program
    .command('demo')
    .description(
      'Start the emulator in a temp dir and run apply against its default world (twice: the rerun changes nothing).',
    )
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(withExit(async (f) => (await import('./demo-command.js')).demoCommand(f)));

  program
    .command('doctor')
    .description(
      'Check this machine for --exchange pwsh (PowerShell 7.4+, ExchangeOnlineManagement) and print the install commands for what is missing.',
    )
    .option('--pwsh <path>', 'the PowerShell executable to check (default: SENDASAPP_PWSH, else pwsh on PATH)')
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(withExit(async (f) => (await import('./doctor-command.js')).doctorCommand(f)));

  program
    .command('schema')
    .description("Print the config file's JSON Schema (for editors).")
    .action(async () => {
      const { configJsonSchema } = await import('../config/index.js');
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
    });
}

async function main(): Promise<void> {
  try {
    await registerTenantCommands();
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(ExitCode.ok);
      process.exit(ExitCode.badInput);
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(ExitCode.failed);
  }
}

void main();
