#!/usr/bin/env node
/**
 * sendasapp: the command-line entry. Commands are loaded lazily so that `--help` starts fast.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliError, ExitCode, toCliError } from './exit-codes.js';

const program = new Command();
program
  .name('sendasapp')
  .description(
    'Make a Microsoft 365 tenant ready for an app to send mail through smtp.office365.com with OAuth 2.0\n' +
      'client credentials (SMTP AUTH XOAUTH2, SMTP.SendAsApp), and prove it with a real XOAUTH2 login.',
  )
  .version('0.1.0')
  .exitOverride()
  // Help and version are the answer asked for: stdout. Errors (and help shown because of one) go to stderr.
  .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

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
  .option(
    '--exchange-replication-delay <ms>',
    'Exchange sees a new or consented service principal only after this long (default: --replication-delay)',
  )
  .option('--permission-cache <seconds>', 'SMTP answers 535 5.7.3 for this long after an Exchange grant')
  .option(
    '--smtp-connection-limit <n>',
    'authenticated SMTP connections per mailbox at once; one more gets 432 4.3.2 (0 = no limit)',
  )
  .option(
    '--smtp-error-limit <n>',
    'SendAs-denied submissions before a mailbox is throttled with 550 5.2.252 (0 = never)',
  )
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

type OptionSet = import('./options.js').OptionSet;

const lazyOptions = async (cmd: Command, set?: OptionSet): Promise<Command> => {
  const { addProvisionOptions } = await import('./options.js');
  return addProvisionOptions(cmd, set);
};

/** Commands that render no hand-off refuse its options (a config file may still hold them for apply and handoff). */
const NO_HANDOFF = (command: string): Record<string, string> => {
  const why = `${command} renders no hand-off; use \`sendasapp handoff\` or \`sendasapp apply\` with it`;
  return { target: why, handoffOut: why, includeSecret: why };
};

/** A flag that takes one value: given twice is bad input (commander would keep the last silently). */
const singleValue = async (flags: string, description: string): Promise<Option> => {
  const { single } = await import('./options.js');
  return new Option(flags, description).argParser(single(flags));
};

/** --fleet, --parallel, --fail-fast and --shard on a command that can run for a fleet of tenants. */
const fleetFlags = async (cmd: Command): Promise<Command> => (await import('./fleet-options.js')).addFleetOptions(cmd);

/** The single-tenant command, or with --fleet the same for every tenant of the fleet file. */
const fleetOr =
  (
    command: 'plan' | 'apply' | 'status' | 'handoff' | 'verify',
    single: (f: Record<string, unknown>) => Promise<number>,
  ) =>
  async (f: Record<string, unknown>): Promise<number> =>
    (await import('./fleet-options.js')).fleetOr(command, f, single);

async function registerTenantCommands(): Promise<void> {
  const plan = program
    .command('plan')
    .description('Read the tenant and print what apply would change, writing nothing.')
    .option('--detailed-exitcode', 'exit 0 when nothing would change, 4 when changes are pending');
  await lazyOptions(plan, { refused: NO_HANDOFF('plan'), hidden: ['expiryWarning'] });
  await fleetFlags(plan);
  plan.action(withExit(fleetOr('plan', async (f) => (await import('./provision-commands.js')).planCommand(f))));

  const apply = program
    .command('apply')
    .description(
      'Make the tenant ready (app, credential, service principal, consent, Exchange, SMTP AUTH), then prove it with an XOAUTH2 login.',
    )
    .option('-y, --yes', 'do not ask for confirmation (never asked without a TTY)');
  await lazyOptions(apply, { hidden: ['expiryWarning'] });
  await fleetFlags(apply);
  apply.action(withExit(fleetOr('apply', async (f) => (await import('./provision-commands.js')).applyCommand(f))));

  const rotate = program
    .command('rotate')
    .description(
      'Replace the app credential held in --secret-out: a new one while the old stays valid, the XOAUTH2 proof with the new one, the hand-off re-rendered, then the old one retired after --grace.',
    )
    .option('-y, --yes', 'do not ask for confirmation (never asked without a TTY)');
  await lazyOptions(rotate, {
    hidden: ['expiryWarning'],
    refused: {
      newSecret: 'rotate always makes a new credential, and retires the old one only after the new one is proven',
      rotateWithin: 'rotate rotates now; --rotate-within belongs to apply (rotate when the end is near)',
    },
  });
  rotate.action(withExit(async (f) => (await import('./rotate-command.js')).rotateCommand(f)));

  const handoff = program
    .command('handoff')
    .description(
      'Read the tenant and print what the sending system needs (--target business-central, enaio-server, enaio-webclient, xeams, postfix, env, json), in the words of its setup screen.',
    );
  await lazyOptions(handoff, { hidden: ['expiryWarning'] });
  await fleetFlags(handoff);
  handoff.action(withExit(fleetOr('handoff', async (f) => (await import('./handoff-command.js')).handoffCommand(f))));

  const setup = program
    .command('setup')
    .description(
      'The prompted setup for people: asks, shows the plan, applies, proves, hands off, and writes the config file for `apply -f`.',
    );
  await lazyOptions(setup, { hidden: ['expiryWarning'] });
  setup.action(withExit(async (f) => (await import('./setup-command.js')).setupCommand(f)));

  const status = program
    .command('status')
    .description('Read-only report of every resource, drift against the configuration, and credential expiry.')
    .option('--detailed-exitcode', 'exit 4 when something differs from the configuration');
  await lazyOptions(status, { refused: NO_HANDOFF('status') });
  await fleetFlags(status);
  status.action(withExit(fleetOr('status', async (f) => (await import('./provision-commands.js')).statusCommand(f))));

  const TEARDOWN_KEYS = [
    'tenant',
    'homeTenant',
    'appName',
    'appId',
    'auth',
    'cloud',
    'endpoints',
    'timeout',
    'verbose',
    'logFile',
    'output',
  ];
  const list = program
    .command('list')
    .description(
      'List the apps of a tenant that sendasapp made or adopted: mode, mailboxes, credential expiry, provenance (reads only).',
    );
  await lazyOptions(list, { only: TEARDOWN_KEYS.filter((k) => k !== 'appName' && k !== 'appId') });
  list.action(withExit(async (f) => (await import('./list-command.js')).listCommand(f)));

  const destroy = program
    .command('destroy')
    .description(
      'Remove what sendasapp made for an app (grants, RBAC, the SMTP AUTH exceptions it enabled, service principals, consent, the app), after showing the plan.',
    )
    .option('-y, --yes', 'do not ask for confirmation (required without a TTY)')
    .option('--purge', 'also remove the app from deleted items (it cannot be restored then)')
    .option(
      '--delete-secret',
      "also delete the sink's credential (the --secret-out file, or the one the record names)",
    );
  await lazyOptions(destroy, {
    only: [...TEARDOWN_KEYS, 'mailboxes', 'group', 'secretOut', 'exchange', 'wait'],
    describe: {
      mailboxes: "also remove the app's grants on this mailbox (the record lists those it made)",
      secretOut: 'the credential file to delete with --delete-secret (default: the one the record names)',
    },
  });
  destroy.action(withExit(async (f) => (await import('./destroy-command.js')).destroyCommand(f)));

  const migrate = program
    .command('migrate')
    .description(
      'Move the app to another mailbox access with no gap: grant the new way, prove it with an XOAUTH2 login, then remove the old grants.',
    )
    .requiredOption('--to <mode>', 'the mailbox access to move to: rbac, full-access or send-as')
    .option('-y, --yes', 'do not ask for confirmation (never asked without a TTY)');
  await lazyOptions(migrate, { refused: NO_HANDOFF('migrate'), hidden: ['expiryWarning', 'mailboxAccess'] });
  migrate.action(withExit(async (f) => (await import('./migrate-command.js')).migrateCommand(f)));

  const verify = program
    .command('verify')
    .description(
      'Only the proof: token, claims and an SMTP XOAUTH2 login (a test message with --send-to), for an app whose credential you hold.',
    )
    .addOption(await singleValue('--client-id <guid>', 'the application (client) id'))
    .addOption(
      await singleValue('--secret-file <file>', 'a file holding the client secret (or the --secret-out file of apply)'),
    )
    .addOption(
      await singleValue(
        '--certificate <file>',
        'a PEM file with the private key and certificate (or the --secret-out file of apply --credential certificate)',
      ),
    )
    .option('--rbac', 'the app is authorized by Exchange RBAC (no roles claim expected)');
  await lazyOptions(verify, {
    only: [
      'tenant',
      'mailboxes',
      'sendTo',
      'wait',
      'cloud',
      'endpoints',
      'output',
      'appId',
      'mailboxAccess',
      'timeout',
      'verbose',
      'logFile',
    ],
    hidden: ['appId', 'mailboxAccess'],
    defaultText: { wait: '0: answer at once' },
    describe: {
      sendTo: 'also send a test message to this address after the login',
      wait: 'how long to keep trying while a new permission propagates (SMTP permission cache)',
    },
    refused: NO_HANDOFF('verify'),
  });
  await fleetFlags(verify);
  verify.action(withExit(fleetOr('verify', async (f) => (await import('./verify-command.js')).verifyCommand(f))));

  program
    .command('demo')
    .description(
      'Start the emulator in a temp dir and run apply against its default world (twice: the rerun changes nothing).',
    )
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .option('--keep', "keep the demo's temp folder (the secret and the emulator's state) instead of removing it")
    .action(withExit(async (f) => (await import('./demo-command.js')).demoCommand(f)));

  program
    .command('doctor')
    .description(
      'Check this machine for --exchange pwsh (PowerShell 7.4+, ExchangeOnlineManagement) and print the install commands for what is missing.',
    )
    .option('--pwsh <path>', 'the PowerShell executable to check (default: SENDASAPP_PWSH, else pwsh on PATH)')
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(withExit(async (f) => (await import('./doctor-command.js')).doctorCommand(f)));

  const fleet = fleetGroup().description(
    "Many tenants: the report of fleet runs, the shard list for a CI matrix, the fleet file's JSON Schema (runs: plan/apply/status/handoff/verify --fleet).",
  );
  fleet
    .command('matrix')
    .description(
      'Print the shards of a fleet for a CI matrix: GitHub Actions (strategy.matrix) or Azure DevOps (job matrix).',
    )
    .addOption(await singleValue('--fleet <file>', 'the fleet file [SENDASAPP_FLEET]'))
    .addOption(await singleValue('--shards <n>', 'how many shards (jobs)'))
    .addOption(
      new Option('--format <ci>', 'github or azure-devops').choices(['github', 'azure-devops']).default('github'),
    )
    .action(withExit(async (f) => (await import('./fleet-command.js')).fleetMatrixCommand(f)));
  fleet
    .command('schema')
    .description("Print the fleet file's JSON Schema (for editors).")
    .action(withExit(async () => (await import('./fleet-command.js')).fleetSchemaCommand()));

  program
    .command('schema')
    .description("Print the config file's JSON Schema (for editors).")
    .action(async () => {
      const { configJsonSchema } = await import('../config/index.js');
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
    });
}

/** The `fleet` command group: created once, whichever fleet command registers first. */
function fleetGroup(): Command {
  return (
    program.commands.find((c) => c.name() === 'fleet') ??
    program.command('fleet').description('Commands over a fleet of tenants: the report of fleet runs and their shards.')
  );
}

async function registerFleetReport(): Promise<void> {
  const report = fleetGroup()
    .command('report')
    .description(
      'Merge the result files of fleet runs (--output jsonl or json; the shards of one run) into one report: the summary, an HTML page (--html) and Markdown (--markdown).',
    )
    .argument('<files...>', 'result files of fleet runs, e.g. results/*.jsonl')
    .addOption(await singleValue('--html <file>', 'write the report as one self-contained HTML page to this file'))
    .addOption(
      await singleValue('--markdown <file>', 'write the report as Markdown to this file (- prints it on stdout)'),
    );
  await lazyOptions(report, {
    only: ['expiryWarning', 'output'],
    describe: { expiryWarning: 'highlight a credential that ends within this window (or has ended)' },
  });
  report.action((files: string[], f: Record<string, unknown>) =>
    withExit(async (flags) => (await import('./fleet-report-command.js')).fleetReportCommand(files, flags))(f),
  );
}

/** Every command ends an error of its own with the one line, the suggestion, and where its help is. */
function pointToHelp(cmd: Command, prefix: string): void {
  const name = `${prefix} ${cmd.name()}`.trim();
  cmd.showHelpAfterError(`see \`${name} --help\``);
  for (const sub of cmd.commands) pointToHelp(sub, name);
}

/** The value of a flag in argv (`--output json` or `--output=json`), the last one given. */
function argvValue(argv: string[], names: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const n of names) {
      if (a === n && i + 1 < argv.length) value = argv[i + 1];
      else if (a.startsWith(`${n}=`)) value = a.slice(n.length + 1);
    }
  }
  return value;
}

/** Whether the run asked for `--output json` (flag > SENDASAPP_OUTPUT > the config file), even if parsing failed. */
async function wantsJson(argv: string[]): Promise<boolean> {
  const flag = argvValue(argv, ['--output']);
  if (flag !== undefined) return flag === 'json';
  const env = process.env.SENDASAPP_OUTPUT;
  if (env) return env === 'json';
  const file = argvValue(argv, ['-f', '--file']);
  if (!file) return false;
  try {
    const { readConfigData } = await import('../config/index.js');
    return readConfigData(file).output === 'json';
  } catch {
    return false;
  }
}

/** A commander parse error as bad input, with the flag it names when it names one. */
function fromCommander(err: CommanderError): CliError {
  const message = err.message.replace(/^error: /, '');
  const field = /option '(-[-a-z0-9]+)/i.exec(message)?.[1] ?? /'(--[a-z0-9-]+)'/i.exec(message)?.[1];
  return new CliError(message, ExitCode.badInput, { code: 'bad-input', ...(field ? { field } : {}) });
}

async function main(): Promise<void> {
  // With --output json, stdout holds exactly one JSON object: an error is printed there only if nothing else was.
  let stdoutUsed = false;
  const write = process.stdout.write.bind(process.stdout) as (...a: unknown[]) => boolean;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string' ? chunk.length > 0 : (chunk as Uint8Array)?.length > 0) stdoutUsed = true;
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await registerTenantCommands();
    await registerFleetReport();
    pointToHelp(program, '');
    await program.parseAsync(process.argv);
  } catch (err) {
    let error: CliError;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(ExitCode.ok);
      // commander has printed the one line, its suggestion and where the help is (stderr).
      error = fromCommander(err);
    } else {
      error = toCliError(err);
      process.stderr.write(`error: ${error.message}\n`);
    }
    if (!stdoutUsed && (await wantsJson(process.argv.slice(2))))
      process.stdout.write(JSON.stringify(error.toJSON()) + '\n');
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit(error.exitCode);
  }
}

void main();
