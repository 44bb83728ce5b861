/**
 * `sendasapp emulator start`: runs the Microsoft 365 emulator in the foreground until Ctrl-C.
 */
import { z } from 'zod';
import { startEmulator } from '../emulator/index.js';
import type { FaultRule, KnobsPatch, ServiceName } from '../emulator/index.js';
import { CliError, ExitCode } from './exit-codes.js';

const port = z.coerce.number().int().min(0).max(65535);
const nonNegative = z.coerce.number().min(0);

const optionsSchema = z.object({
  port,
  host: z.string().min(1),
  stateDir: z.string().optional(),
  seed: z.string().optional(),
  certHostnames: z.string().optional(),
  smtpPort: port.optional(),
  latency: z
    .string()
    .regex(
      /^((token|graph|exchange|smtp)=\d+)(,(token|graph|exchange|smtp)=\d+)*$/,
      'service=ms pairs, e.g. graph=120,token=150',
    )
    .optional(),
  replicationDelay: nonNegative.optional(),
  exchangeReplicationDelay: nonNegative.optional(),
  permissionCache: nonNegative.optional(),
  smtpConnectionLimit: nonNegative.optional(),
  smtpErrorLimit: nonNegative.optional(),
  throttleEvery: z.coerce.number().int().min(0).optional(),
  fault: z
    .array(
      z
        .string()
        .regex(/^(token|graph|exchange|smtp):[1-9]\d*:(503|reset|hang)$/, 'service:call:kind, e.g. graph:3:503'),
    )
    .optional(),
  maxSecretLifetime: z.coerce.number().int().positive().optional(),
  securityDefaults: z.boolean().optional(),
  denyConsent: z.boolean().optional(),
  output: z.enum(['text', 'json']),
});

const flagName: Record<string, string> = {
  stateDir: '--state-dir',
  certHostnames: '--cert-hostnames',
  smtpPort: '--smtp-port',
  replicationDelay: '--replication-delay',
  exchangeReplicationDelay: '--exchange-replication-delay',
  permissionCache: '--permission-cache',
  smtpConnectionLimit: '--smtp-connection-limit',
  smtpErrorLimit: '--smtp-error-limit',
  throttleEvery: '--throttle-every',
  maxSecretLifetime: '--max-secret-lifetime',
};

export async function emulatorStart(raw: Record<string, unknown>): Promise<void> {
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    throw new CliError(`${flagName[key] ?? `--${key}`}: ${issue.message}`, ExitCode.badInput);
  }
  const o = parsed.data;
  const knobs: KnobsPatch = {};
  if (o.latency) {
    const latency = { token: 0, graph: 0, exchange: 0, smtp: 0 } as Record<ServiceName, number>;
    for (const pair of o.latency.split(',')) {
      const [svc, ms] = pair.split('=') as [ServiceName, string];
      latency[svc] = Number(ms);
    }
    knobs.latency = latency;
  }
  if (o.replicationDelay !== undefined) knobs.replicationDelayMs = o.replicationDelay;
  if (o.exchangeReplicationDelay !== undefined) knobs.exchangeReplicationDelayMs = o.exchangeReplicationDelay;
  if (o.permissionCache !== undefined) knobs.permissionCacheSeconds = o.permissionCache;
  if (o.smtpConnectionLimit !== undefined || o.smtpErrorLimit !== undefined)
    knobs.smtpLimits = {
      ...(o.smtpConnectionLimit !== undefined ? { concurrentConnectionsPerMailbox: o.smtpConnectionLimit } : {}),
      ...(o.smtpErrorLimit !== undefined ? { continuousErrorLimit: o.smtpErrorLimit } : {}),
    };
  if (o.throttleEvery !== undefined)
    knobs.throttle = { every: o.throttleEvery, retryAfterSeconds: 1, services: ['graph', 'exchange'] };
  if (o.fault) {
    knobs.faults = o.fault.map((f): FaultRule => {
      const [service, call, kind] = f.split(':');
      return { service: service as ServiceName, call: Number(call), kind: kind as FaultRule['kind'] };
    });
  }
  if (o.denyConsent) knobs.consent = 'deny';

  const emu = await startEmulator({
    port: o.port,
    host: o.host,
    stateDir: o.stateDir,
    seed: o.seed,
    certHostnames: o.certHostnames
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    smtpPort: o.smtpPort,
    knobs,
  });
  if (o.maxSecretLifetime !== undefined || o.securityDefaults) {
    for (const t of emu.store.world.tenants) {
      if (o.maxSecretLifetime !== undefined) t.policy.maxSecretLifetimeDays = o.maxSecretLifetime;
      if (o.securityDefaults) t.policy.securityDefaults = true;
    }
    emu.store.changed();
  }
  if (o.output === 'json') process.stdout.write(JSON.stringify(emu.endpoints) + '\n');
  else {
    const e = emu.endpoints;
    process.stderr.write(
      [
        `Microsoft 365 emulator listening`,
        `  token service / Graph / Exchange admin: ${e.authorityHost}`,
        `  SMTP submission (STARTTLS, XOAUTH2):    ${e.smtp.host}:${e.smtp.port}`,
        `  tenants: ${e.tenants.map((t) => t.domain).join(', ')}`,
        `  cloud profile: ${emu.endpointsFile}  (use --endpoints with it; CA: ${e.caFile})`,
        `Ctrl-C stops it.`,
        '',
      ].join('\n'),
    );
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void emu.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  if (o.output === 'text') process.stderr.write('emulator stopped\n');
}
