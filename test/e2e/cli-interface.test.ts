/**
 * The CLI's interface, as a process: exit codes, what goes to stdout and what to stderr, the one JSON error object
 * of `--output json`, refused flag combinations — and, for every bad input, no request to any tenant (checked in
 * the emulator's request log). Run `npm run build --silent` first: these spawn dist/cli/main.js.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CONTOSO, readJson, tempDir } from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const APP_ID = '7ec603cf-7bd1-49fc-b809-c050873e6217';

interface ErrorObject {
  error: { code: string; message: string; field?: string };
}

/** stdout is exactly one JSON object, an error; returns it. */
function jsonError(r: CliResult): ErrorObject['error'] {
  const lines = r.stdout.trim().split('\n');
  expect(lines, r.stdout).toHaveLength(1);
  const out = JSON.parse(lines[0]!) as ErrorObject;
  expect(Object.keys(out)).toEqual(['error']);
  expect(out.error.message.length).toBeGreaterThan(10);
  return out.error;
}

describe('sendasapp as a process: exit codes, stdout and stderr', () => {
  let emu: TestEmulator;
  let dir: string;
  const base = (): string[] => ['--endpoints', emu.endpointsFile, '--tenant', CONTOSO, '--mailbox', SCANNER];

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-cli-');
  });
  afterAll(async () => emu?.close());
  beforeEach(async () => emu.control.clearLog());

  /** The run made no request of any kind to the emulator (token service, Graph, Exchange, SMTP). */
  const expectNoRequest = async (): Promise<void> =>
    expect((await emu.control.log()).filter((e) => e.service !== 'control')).toEqual([]);

  describe('--version and --help answer on stdout', () => {
    it.each([[['--version']], [['--help']], [['plan', '--help']], [['verify', '--help']]])('%j', async (args) => {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(args[0] === '--version' ? /^\d+\.\d+\.\d+\n$/ : /^Usage: sendasapp/);
    });

    it('verify --help lists only what verify takes, with its own --wait default (0)', async () => {
      const help = (await runCli(['verify', '--help'])).stdout;
      for (const flag of ['--client-id', '--secret-file', '--certificate', '--tenant', '--mailbox', '--send-to'])
        expect(help).toContain(flag);
      expect(help).toMatch(/--wait <duration>[\s\S]*?\(default: 0/);
      expect(help).not.toContain('30m');
      for (const absent of ['--app-name', '--secret-out <', '--target', '--out <', '--include-secret', '--verify <'])
        expect(help).not.toContain(absent);
      expect(help).not.toContain('(with --verify send)');
    });

    it('apply --help lists the new options', async () => {
      const help = (await runCli(['apply', '--help'])).stdout;
      for (const flag of ['--verbose', '--log-file <file>', '--new-secret', '--timeout <duration>'])
        expect(help).toContain(flag);
      expect(help).toMatch(/--timeout <duration>[\s\S]*?\(default: 60s\)/);
      expect(help).toMatch(/Exchange backend: auto \(pwsh where/);
      expect(help).toContain('--target <system>');
      // plan renders no hand-off: its help does not offer the hand-off flags.
      const plan = (await runCli(['plan', '--help'])).stdout;
      for (const flag of ['--target', '--out <', '--include-secret']) expect(plan).not.toContain(flag);
      expect(plan).toContain('--new-secret');
    });
  });

  describe('an unknown option: one line, the suggestion, where the help is', () => {
    it('text', async () => {
      const r = await runCli(['plan', ...base(), '--tenat', 'x']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain("error: unknown option '--tenat'");
      expect(r.stderr).toContain('Did you mean --tenant?');
      expect(r.stderr).toContain('see `sendasapp plan --help`');
      expect(r.stderr).not.toContain('Usage:');
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
      await expectNoRequest();
    });

    it('--output json: the same as one JSON object on stdout', async () => {
      const r = await runCli(['plan', ...base(), '--output', 'json', '--tenat', 'x']);
      expect(r.code).toBe(2);
      expect(jsonError(r)).toMatchObject({ code: 'bad-input', field: '--tenat' });
      expect(r.stderr).toContain('Did you mean --tenant?');
    });
  });

  describe('refused combinations (exit 2, nothing called)', () => {
    it.each([
      [['plan', '--target', 'env'], '--target', /plan renders no hand-off/],
      [['status', '--out', 'h.txt'], '--out', /status renders no hand-off/],
      [['plan', '--include-secret'], '--include-secret', /plan renders no hand-off/],
      [['apply', '--send-to', 'me@contoso.com', '--yes'], '--send-to', /goes with --verify send/],
      [['apply', '--tenant', 'fabrikam.onmicrosoft.com', '--yes'], '--tenant', /given more than once/],
      [['plan', '--secret-out', 'a.json', '--secret-out', 'b.json'], '--secret-out', /given more than once/],
    ])('%j → %s', async (extra, field, reason) => {
      const [command, ...rest] = extra;
      const text = await runCli([command!, ...base(), ...rest]);
      expect(text.code).toBe(2);
      expect(text.stdout).toBe('');
      expect(text.stderr).toMatch(reason);
      expect(text.stderr).toContain(field);
      const json = await runCli([command!, ...base(), ...rest, '--output', 'json']);
      expect(json.code).toBe(2);
      const err = jsonError(json);
      expect(err.code).toBe('bad-input');
      expect(err.message).toMatch(reason);
      await expectNoRequest();
    });

    it('verify refuses the hand-off flags, naming why', async () => {
      const r = await runCli(['verify', ...base(), '--client-id', APP_ID, '--target', 'env', '--output', 'json']);
      expect(r.code).toBe(2);
      expect(jsonError(r)).toMatchObject({ code: 'bad-input', field: '--target' });
      expect(r.stderr).toContain('verify renders no hand-off');
      await expectNoRequest();
    });
  });

  describe('bad values: exit 2 naming the field and the allowed form, no raw validator text, no request', () => {
    it.each([
      [['--secret-lifetime', '90s'], /--secret-lifetime: must be at least 1d and at most 2y/],
      [['--secret-lifetime', '0d'], /--secret-lifetime: must be at least 1d and at most 2y/],
      [['--secret-lifetime', '999999y'], /--secret-lifetime: must be at least 1d and at most 2y/],
      [['--timeout', '0'], /--timeout: must be at least 1s and at most 10m/],
      [['--timeout', '11m'], /--timeout: must be at least 1s and at most 10m/],
      [['--wait', '10'], /--wait: must be a duration such as/],
      [['--exchange', 'graph'], /--exchange: must be one of rest, pwsh, auto/],
    ])('apply %j', async (extra, message) => {
      const r = await runCli(['apply', ...base(), ...extra, '--yes', '--output', 'json']);
      expect(r.code).toBe(2);
      const err = jsonError(r);
      expect(err.code).toBe('bad-input');
      expect(err.message).toMatch(message);
      expect(r.stdout + r.stderr).not.toMatch(/Invalid input|received|\bNaN\b/);
      expect(r.stderr).toMatch(message);
      await expectNoRequest();
    });

    it('SENDASAPP_OUTPUT=json and a config file that says output: json give the JSON error too', async () => {
      const env = await runCli(['apply', ...base(), '--secret-lifetime', '0d', '--yes'], {
        env: { SENDASAPP_OUTPUT: 'json' },
      });
      expect(env.code).toBe(2);
      expect(jsonError(env).message).toContain('--secret-lifetime');
      const file = path.join(dir, 'json-output.yaml');
      writeFileSync(file, 'output: json\nsecretLifetime: 999999y\n');
      const fromFile = await runCli(['apply', ...base(), '-f', file, '--yes']);
      expect(fromFile.code).toBe(2);
      expect(jsonError(fromFile).message).toContain(`${file}: secretLifetime`);
      // The flag wins over the file: text, nothing on stdout.
      const text = await runCli(['apply', ...base(), '-f', file, '--output', 'text', '--yes']);
      expect(text.code).toBe(2);
      expect(text.stdout).toBe('');
      await expectNoRequest();
    });

    it('a JSON config file with numbers for durations is refused as the schema says', async () => {
      const file = path.join(dir, 'numbers.json');
      writeFileSync(file, JSON.stringify({ wait: 30 }));
      const r = await runCli(['plan', ...base(), '-f', file, '--output', 'json']);
      expect(r.code).toBe(2);
      expect(jsonError(r).message).toMatch(/wait: must be a duration .*written as a string/);
      await expectNoRequest();
    });
  });

  describe('verify', () => {
    const verifyBase = (): string[] => ['verify', ...base(), '--client-id', APP_ID];

    it('a secret sink given as --certificate is explained, with the field', async () => {
      const sink = path.join(dir, 'secret-sink.json');
      writeFileSync(
        sink,
        JSON.stringify({
          kind: 'sendasapp-credential',
          clientId: APP_ID,
          credential: { type: 'secret', keyId: 'k', secret: 'x'.repeat(40), expires: '2030-01-01', displayName: 'd' },
          pending: null,
        }),
      );
      const r = await runCli([...verifyBase(), '--certificate', sink, '--output', 'json']);
      expect(r.code).toBe(2);
      const err = jsonError(r);
      expect(err).toMatchObject({ code: 'bad-input', field: '--certificate' });
      expect(err.message).toContain(`give it as --secret-file ${sink}`);
      expect(r.stdout + r.stderr).not.toContain('x'.repeat(40));
      await expectNoRequest();
    });

    it('a bad client id names --client-id and the GUID form', async () => {
      const r = await runCli(['verify', ...base(), '--client-id', 'nope', '--secret-file', '/dev/null']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--client-id: must be a GUID/);
      await expectNoRequest();
    });

    it('a --send-to alone is the test message here (verify has no --verify), not an error', async () => {
      const r = await runCli([...verifyBase(), '--send-to', SCANNER, '--output', 'json']);
      // It goes on to the credential, which is missing: that is the error, not --send-to.
      expect(r.code).toBe(2);
      expect(jsonError(r)).toMatchObject({ field: '--secret-file' });
    });
  });

  describe('a certificate app end to end: config-relative sink, then verify --certificate with that sink', () => {
    it('apply -f writes the sink next to the config file; verify takes it as --certificate and passes', async () => {
      const confDir = path.join(dir, 'conf');
      mkdirSync(confDir);
      const config = path.join(confDir, 'sendasapp.yaml');
      writeFileSync(
        config,
        [
          `endpoints: ${emu.endpointsFile}`,
          `tenant: ${CONTOSO}`,
          `mailboxes: [${SCANNER}]`,
          'appName: Interface Cert Sender',
          'credential: certificate',
          'secretOut: sinks/cert.json',
          'enableSmtpAuth: mailbox',
          'wait: 30s',
          '',
        ].join('\n'),
      );
      mkdirSync(path.join(confDir, 'sinks'));
      const apply = await runCli(['apply', '-f', config, '--yes', '--output', 'json']);
      expect(apply.code, apply.stderr).toBe(0);
      const sink = path.join(confDir, 'sinks', 'cert.json');
      expect(existsSync(sink)).toBe(true);
      expect(existsSync(path.resolve('sinks', 'cert.json'))).toBe(false);
      const appId = apply.json<Record<string, any>>().application.appId as string;
      expect(readJson(sink).credential.type).toBe('certificate');

      await emu.control.clearLog();
      const verify = await runCli([
        'verify',
        ...base(),
        '--client-id',
        appId,
        '--certificate',
        sink,
        '--output',
        'json',
      ]);
      expect(verify.code, verify.stderr).toBe(0);
      const out = verify.json<Record<string, any>>();
      expect(out.verification.status).toBe('passed');
      expect(out).not.toHaveProperty('error');
      // The proof signed in with the certificate (a client assertion), and wrote nothing.
      const log = await emu.control.log();
      expect(log.some((e) => e.service === 'smtp')).toBe(true);
      expect(log.filter((e) => e.write && e.service !== 'smtp' && e.service !== 'token')).toEqual([]);
    });
  });
});
