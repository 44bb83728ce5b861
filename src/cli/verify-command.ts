/**
 * `sendasapp verify`: only the proof — token, claims, SMTP login (and a test message with --send-to) — for an app
 * whose credential you hold.
 */
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  guid,
  mailbox as mailboxSchema,
  parseDuration,
  readConfigFile,
  resolveOptions,
} from '../config/index.js';
import { createDispatcher, resolveCloud } from '../auth/index.js';
import {
  explainError,
  resolveTenantId,
  splitKeyAndCertificate,
  verifyDelivery,
  type AppCredential,
} from '../provision/index.js';
import { sinkFileSchema } from '../handoff/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { printJson } from './output.js';

export interface VerifyFlags extends Record<string, unknown> {
  clientId?: string;
  secretFile?: string;
  certificate?: string;
  rbac?: boolean;
}

function readCredential(flags: VerifyFlags): AppCredential {
  if (flags.secretFile && flags.certificate)
    throw new ConfigError('--secret-file', 'give either --secret-file or --certificate, not both');
  if (flags.certificate) {
    let pem: string;
    try {
      pem = readFileSync(flags.certificate, 'utf8');
    } catch {
      throw new ConfigError(
        '--certificate',
        `cannot read ${flags.certificate}: give a PEM file with the private key and the certificate`,
      );
    }
    if (!splitKeyAndCertificate(pem))
      throw new ConfigError('--certificate', 'must be a PEM file holding both the private key and the certificate');
    return { type: 'certificate', pem };
  }
  if (!flags.secretFile)
    throw new ConfigError(
      '--secret-file',
      'is required (a file holding the client secret, or the --secret-out file of apply), or --certificate',
    );
  let text: string;
  try {
    text = readFileSync(flags.secretFile, 'utf8');
  } catch {
    throw new ConfigError('--secret-file', `cannot read ${flags.secretFile}`);
  }
  try {
    const sink = sinkFileSchema.parse(JSON.parse(text));
    if (sink.credential?.type === 'secret') return { type: 'secret', value: sink.credential.secret };
    if (sink.credential?.type === 'certificate')
      return { type: 'certificate', pem: `${sink.credential.privateKeyPem}\n${sink.credential.certificatePem}` };
    throw new ConfigError('--secret-file', 'holds no credential yet');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
  }
  const value = text.trim();
  if (!value || /\s/.test(value))
    throw new ConfigError('--secret-file', 'must hold the secret value alone on one line (or be a --secret-out file)');
  return { type: 'secret', value };
}

export async function verifyCommand(flags: VerifyFlags): Promise<number> {
  let options;
  let credential: AppCredential;
  let appId: string;
  try {
    const file = flags.file as string | undefined;
    options = resolveOptions({ flags, file });
    // verify answers at once unless a wait is given (flag, SENDASAPP_WAIT or the file); apply's default is 30m.
    const waitGiven =
      flags.wait !== undefined ||
      !!process.env.SENDASAPP_WAIT ||
      (file !== undefined && readConfigFile(file).wait !== undefined);
    if (!waitGiven) options.wait = parseDuration('0')!;
    if (!options.tenant) throw new ConfigError('--tenant', 'is required: the mailbox tenant (id or verified domain)');
    if (options.mailboxes.length === 0)
      throw new ConfigError('--mailbox', 'is required: the mailbox to log in as (repeatable)');
    const id = guid.safeParse(flags.clientId ?? options.appId);
    if (!id.success) throw new ConfigError('--client-id', 'is required: the application (client) id, a GUID');
    appId = id.data;
    credential = readCredential(flags);
    if (options.sendTo) mailboxSchema.parse(options.sendTo);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.badInput);
    throw err;
  }
  const profile = resolveCloud(options);
  const dispatcher = createDispatcher(profile);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  try {
    const tenantId = await resolveTenantId(profile, dispatcher, options.tenant, controller.signal);
    const progress = (l: string): void => void process.stderr.write(l + '\n');
    progress(
      `Proving app ${appId} in ${options.tenant} with an XOAUTH2 login to ${profile.smtp.host}:${profile.smtp.port}…`,
    );
    const report = await verifyDelivery({
      profile,
      tenantId,
      appId,
      credential,
      mailboxes: options.mailboxes,
      rbac: Boolean(flags.rbac) || options.mailboxAccess === 'rbac',
      sendTo: options.sendTo,
      waitMs: options.wait.ms,
      progress,
      signal: controller.signal,
    });
    for (const m of report.mailboxes) progress(`  ${m.status === 'passed' ? '✓' : '✗'} ${m.mailbox}: ${m.reply}`);
    if (report.status !== 'passed') {
      if (report.mailboxes.length === 0) progress(`  ✗ ${report.reply}`);
      if (report.cause) progress(`    Cause: ${report.cause}`);
      if (report.fix) progress(`    Fix: ${report.fix}`);
    }
    if (options.output === 'json') printJson({ tenant: tenantId, application: { appId }, verification: report });
    return report.status === 'passed' ? ExitCode.ok : ExitCode.proofNotPassed;
  } catch (err) {
    throw new CliError(explainError(err), ExitCode.failed);
  } finally {
    await dispatcher.close();
  }
}
