/**
 * `sendasapp verify`: only the proof — token, claims, SMTP login (and a test message with --send-to) — for an app
 * whose credential you hold.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, guid, resolveOptionSources, type ProvisionOptions } from '../config/index.js';
import {
  createDispatcher,
  resolveCloud,
  signInOperator,
  type CloudProfile,
  type NetworkBounds,
} from '../auth/index.js';
import {
  explainError,
  resolveTenantId,
  splitKeyAndCertificate,
  verifyDelivery,
  type AppCredential,
} from '../provision/index.js';
import { KeyVaultSink, isKeyVaultTarget, sinkFileSchema, type SinkFile } from '../handoff/index.js';
import { CliError, ExitCode, fromConfigError } from './exit-codes.js';
import { printJson as printResult, result } from './output.js';
import { openRequestLog } from './request-log.js';
import {
  exitCodeOf,
  hostedInterrupt,
  interruptible,
  runDeadlineMs,
  signalExitCode,
  type TenantHost,
} from './tenant-command.js';

export interface VerifyFlags extends Record<string, unknown> {
  clientId?: string;
  secretFile?: string;
  certificate?: string;
  rbac?: boolean;
}

function readText(flag: string, file: string, form: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      flag,
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): give ${form}`,
    );
  }
}

/** The --secret-out file of apply, if the text is one. */
function asSinkFile(text: string): SinkFile | undefined {
  try {
    const r = sinkFileSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** The credential a --secret-out file of apply holds, whichever of --secret-file or --certificate names it. */
function fromSink(flag: string, file: string, sink: SinkFile): AppCredential {
  const c = sink.credential;
  if (!c)
    throw new ConfigError(
      flag,
      `${file} is a --secret-out file that holds no credential yet (${sink.pending ? 'a credential was being created when a run stopped' : 'nothing was stored'}); rerun apply, which writes it`,
    );
  if (c.type === 'secret' && flag === '--certificate')
    throw new ConfigError(flag, `${file} holds a client secret, not a certificate: give it as --secret-file ${file}`);
  if (c.type === 'secret') return { type: 'secret', value: c.secret };
  return { type: 'certificate', pem: `${c.privateKeyPem.trimEnd()}\n${c.certificatePem.trimEnd()}\n` };
}

/**
 * The credential a Key Vault --secret-out of apply holds (`--secret-file keyvault://<vault>/<secret>`), read with the
 * operator's sign-in: the same record as a --secret-out file.
 */
async function credentialFromVault(
  uri: string,
  appId: string,
  o: {
    auth?: Parameters<typeof signInOperator>[0]['auth'];
    tenant: string;
    profile: CloudProfile;
    bounds: NetworkBounds;
  },
): Promise<AppCredential> {
  const signIn = signInOperator({
    auth: o.auth,
    profile: o.profile,
    tenant: o.tenant,
    isTty: Boolean(process.stdin.isTTY),
    prompt: (line) => void process.stderr.write(line + '\n'),
    bounds: o.bounds,
  });
  const sink = new KeyVaultSink({ uri, profile: o.profile, credential: signIn.credential, bounds: o.bounds });
  const r = await sink.inspect({ clientId: appId });
  if (!r.ok) throw new ConfigError('--secret-file', `${uri}: ${r.reason}. Fix: ${r.fix}`);
  const held = sink.read();
  if (!held) throw new ConfigError('--secret-file', `${uri} does not exist yet: run apply with --secret-out ${uri}`);
  return fromSink('--secret-file', uri, held);
}

function readCredential(flags: VerifyFlags): AppCredential {
  if (flags.secretFile && flags.certificate)
    throw new ConfigError('--secret-file', 'give either --secret-file or --certificate, not both');
  if (flags.certificate) {
    const form = 'a PEM file with the private key and the certificate, or the --secret-out file of apply';
    const text = readText('--certificate', flags.certificate, form);
    const sink = asSinkFile(text);
    if (sink) return fromSink('--certificate', flags.certificate, sink);
    if (!splitKeyAndCertificate(text)) throw new ConfigError('--certificate', `${flags.certificate} must be ${form}`);
    return { type: 'certificate', pem: text };
  }
  if (!flags.secretFile)
    throw new ConfigError(
      '--secret-file',
      'is required (a file holding the client secret, or the --secret-out file of apply), or --certificate',
    );
  const text = readText('--secret-file', flags.secretFile, 'a file holding the client secret');
  const sink = asSinkFile(text);
  if (sink) return fromSink('--secret-file', flags.secretFile, sink);
  if (splitKeyAndCertificate(text))
    throw new ConfigError(
      '--secret-file',
      `${flags.secretFile} holds a PEM key and certificate: give it as --certificate ${flags.secretFile}`,
    );
  const value = text.trim();
  if (!value || /\s/.test(value))
    throw new ConfigError('--secret-file', 'must hold the secret value alone on one line (or be a --secret-out file)');
  return { type: 'secret', value };
}

/**
 * `verify`; in a fleet (`host`), one tenant's proof with its options already resolved from the fleet file, its JSON
 * result handed to the fleet and its stop the fleet's.
 */
export async function verifyCommand(
  flags: VerifyFlags,
  host?: TenantHost,
  resolved?: ProvisionOptions,
): Promise<number> {
  let options;
  let credential: AppCredential | undefined;
  let appId: string;
  try {
    // One read of the config file. verify answers at once unless a wait is given; a --send-to alone means a test message.
    options =
      resolved ??
      resolveOptionSources({
        flags,
        file: flags.file as string | undefined,
        defaults: { wait: '0' },
        proofOnly: true,
      }).options;
    if (!options.tenant) throw new ConfigError('--tenant', 'is required: the mailbox tenant (id or verified domain)');
    if (options.mailboxes.length === 0)
      throw new ConfigError('--mailbox', 'is required: the mailbox to log in as (repeatable)');
    const given = flags.clientId ?? options.appId;
    if (given === undefined) throw new ConfigError('--client-id', 'is required: the application (client) id, a GUID');
    const id = guid.safeParse(given);
    if (!id.success) throw new ConfigError('--client-id', id.error.issues[0]!.message);
    appId = id.data;
    // A Key Vault secret is read once the cloud and the operator's sign-in are known (below).
    if (!(flags.secretFile && !flags.certificate && isKeyVaultTarget(flags.secretFile)))
      credential = readCredential(flags);
  } catch (err) {
    if (err instanceof ConfigError) throw fromConfigError(err);
    throw err;
  }
  const profile = resolveCloud(options);
  const dispatcher = createDispatcher(profile, { timeoutMs: options.timeout.ms });
  const { signal, which, dispose } = host ? hostedInterrupt(host, runDeadlineMs(options.wait.ms)) : interruptible();
  const printJson = host?.emit ?? printResult;
  const requests = openRequestLog(options);
  const bounds = { timeoutMs: options.timeout.ms, onRequest: requests.onRequest };
  try {
    credential ??= await credentialFromVault(flags.secretFile!, appId, {
      auth: options.auth,
      tenant: options.homeTenant ?? options.tenant,
      profile,
      bounds: { ...bounds, signal },
    });
    const tenantId = await resolveTenantId(profile, dispatcher, options.tenant, signal, bounds);
    const progress = (l: string): void => (host ? host.say(l) : void process.stderr.write(l + '\n'));
    progress(
      `Proving app ${appId} in ${options.tenant} with an XOAUTH2 login to ${profile.smtp.host}:${profile.smtp.port}…`,
    );
    const report = await verifyDelivery({
      profile,
      tenantId,
      appId,
      credential,
      mailboxes: options.mailboxes,
      // Unset: the app may be an rbac app (the default for new ones), whose token carries no roles.
      rbac: Boolean(flags.rbac) || !['full-access', 'send-as'].includes(options.mailboxAccess),
      sendTo: options.sendTo,
      waitMs: options.wait.ms,
      progress,
      signal,
      bounds,
    });
    if (signal.aborted) throw signal.reason;
    // The proof is the result: stdout (text), or the one JSON object.
    const outcome = report.status === 'passed' ? 'ok' : report.timedOut ? 'proof-not-passed' : 'failed';
    if (options.output === 'json')
      printJson({ command: 'verify', outcome, tenant: tenantId, application: { appId }, verification: report });
    else {
      for (const m of report.mailboxes) result(`  ${m.status === 'passed' ? '✓' : '✗'} ${m.mailbox}: ${m.reply}`);
      if (report.status !== 'passed') {
        if (report.mailboxes.length === 0) result(`  ✗ ${report.reply}`);
        if (report.cause) result(`    Cause: ${report.cause}`);
        if (report.fix) result(`    Fix: ${report.fix}`);
      }
    }
    return exitCodeOf(outcome, {});
  } catch (err) {
    if (signal.aborted) {
      const sig = which() ?? 'SIGINT';
      (host?.say ?? ((l: string) => void process.stderr.write(`${l}\n`)))(
        `\nInterrupted (${sig}): the proof did not finish; nothing was changed.`,
      );
      if (options.output === 'json')
        printJson({
          command: 'verify',
          outcome: 'interrupted',
          error: { code: 'interrupted', message: `interrupted by ${sig}` },
        });
      return signalExitCode(sig);
    }
    if (err instanceof ConfigError) throw fromConfigError(err);
    throw new CliError(explainError(err), ExitCode.failed);
  } finally {
    dispose();
    requests.close();
    await dispatcher.close();
  }
}
