/**
 * End to end with the built CLI: the pipeline templates rendered and run (their matrix comes from `fleet matrix`,
 * each leg's command is the template's own, three shards run as separate processes against one emulator and
 * together hold the whole fleet once), `--output json` and text, `status --fleet`, and Ctrl-C in the middle of a
 * fleet (no new tenant starts, the running ones stop at a safe point, exit 130, the JSON lines still whole).
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CLI_PATH, runCli, spawnCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/e2e.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TENANTS = 9;
const domain = (i: number): string => `tenant${i}.onmicrosoft.com`;
const names = Array.from({ length: TENANTS }, (_, k) => `customer-${k + 1}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fleet file of the generated tenants (endpoints, app and waits in its defaults). */
function writeFleet(dir: string, emu: TestEmulator, count = TENANTS, extra: Record<string, unknown> = {}): string {
  mkdirSync(path.join(dir, 'secrets'), { recursive: true });
  const file = path.join(dir, 'fleet.yaml');
  writeFileSync(
    file,
    stringify({
      defaults: {
        endpoints: emu.endpointsFile,
        appName: 'Pipeline Relay',
        enableSmtpAuth: 'mailbox',
        wait: '30s',
        exchange: 'rest',
        ...extra,
      },
      tenants: Array.from({ length: count }, (_, k) => ({
        name: names[k],
        tenant: domain(k + 1),
        mailboxes: [`admin@${domain(k + 1)}`, `user1@${domain(k + 1)}`],
        secretOut: `secrets/${k + 1}.json`,
      })),
    }),
  );
  return file;
}

/**
 * A directory with `sendasapp` on PATH as the built CLI (what `npm install --global sendasapp` gives a CI runner).
 * The templates sign in with --auth workload-identity; against the emulator the operator's own sign-in stands in.
 */
function shimDir(dir: string): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const shim = path.join(bin, 'sendasapp');
  writeFileSync(
    shim,
    `#!/bin/sh\nargs=""\nfor a in "$@"; do args="$args|$a"; done\ncase "$args" in *"|--auth|workload-identity"*) ;; esac\n` +
      `set -- $(printf '%s' "$args" | sed 's/|--auth|workload-identity//' | tr '|' ' ')\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`,
  );
  chmodSync(shim, 0o755);
  return bin;
}

/** Runs a step's shell script as the CI runner would (bash -e), in `cwd`, with `sendasapp` on PATH. */
function runScript(
  script: string,
  cwd: string,
  env: Record<string, string>,
  bin: string,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|SENDASAPP_)/.test(k)));
    const child = spawn('bash', ['-e', '-c', script], {
      cwd,
      env: { ...clean, ...env, PATH: `${bin}:${process.env.PATH}` },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

const readJsonFile = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

const readLines = (file: string): any[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('fleet pipelines: the templates rendered and run, three shards against one emulator', () => {
  let emu: TestEmulator;
  let dir: string;
  let bin: string;
  const gh = parse(readFileSync(path.join(root, 'templates/pipelines/github-actions.yml'), 'utf8'));
  const ado = parse(readFileSync(path.join(root, 'templates/pipelines/azure-pipelines.yml'), 'utf8'));

  beforeAll(async () => {
    emu = await startTestEmulator({ seed: { generate: { tenants: TENANTS, mailboxesPerTenant: 2 } } });
    dir = tempDir('sendasapp-e2e-fleet-pipeline-');
    // The templates name fleet.yaml in the working directory, as in the repository root.
    writeFleet(dir, emu);
    bin = shimDir(dir);
  });
  afterAll(async () => emu?.close());

  it('GitHub Actions: OIDC only (id-token: write, no secret), legs from `fleet matrix`, apply then report', () => {
    const text = readFileSync(path.join(root, 'templates/pipelines/github-actions.yml'), 'utf8');
    expect(gh.permissions['id-token']).toBe('write');
    expect(text).not.toMatch(/secrets\.|CLIENT_SECRET|client-secret/i);
    const matrixRun = gh.jobs.matrix.steps.find((s: any) => s.id === 'shards').run as string;
    expect(matrixRun).toContain('sendasapp fleet matrix --fleet fleet.yaml --shards "$SHARDS" --format github');
    expect(gh.jobs.apply.strategy.matrix).toBe('${{ fromJSON(needs.matrix.outputs.matrix) }}');
    expect(gh.jobs.apply.strategy['fail-fast']).toBe(false);
    const step = gh.jobs.apply.steps.find((s: any) => typeof s.run === 'string' && s.run.includes('sendasapp apply'));
    expect(step.run).toContain(
      'sendasapp apply --fleet fleet.yaml --shard "$SHARD" --auth workload-identity --output jsonl > "results/$INDEX.jsonl"',
    );
    expect(step.env.AZURE_FEDERATED_TOKEN_FILE).toBe('${{ runner.temp }}/federated-token');
    expect(gh.jobs.report.needs).toBe('apply');
    expect(gh.jobs.report.steps.map((s: any) => s.run ?? '').join('\n')).toContain(
      'sendasapp fleet report results/*.jsonl',
    );
  });

  it('GitHub Actions: each leg of the rendered matrix runs its shard as its own process; together they are the fleet, each tenant once', async () => {
    const matrixRun = gh.jobs.matrix.steps.find((s: any) => s.id === 'shards').run as string;
    const outputFile = path.join(dir, 'github-output');
    writeFileSync(outputFile, '');
    const m = await runScript(matrixRun, dir, { SHARDS: gh.env.SHARDS, GITHUB_OUTPUT: outputFile }, bin);
    expect(m.code, m.stderr).toBe(0);
    const matrix = JSON.parse(/^matrix=(.*)$/m.exec(readFileSync(outputFile, 'utf8'))![1]!);
    expect(matrix.include.map((l: any) => l.shard)).toEqual(['1/3', '2/3', '3/3']);
    const direct = await runCli(['fleet', 'matrix', '--fleet', path.join(dir, 'fleet.yaml'), '--shards', '3']);
    expect(JSON.parse(direct.stdout)).toEqual(matrix);
    // Every leg at once, as the jobs would run: the apply step's script with the leg's env rendered.
    const step = gh.jobs.apply.steps.find((s: any) => typeof s.run === 'string' && s.run.includes('sendasapp apply'));
    const legs = await Promise.all(
      matrix.include.map((leg: any) =>
        runScript(
          step.run,
          dir,
          { SHARD: leg.shard, INDEX: String(leg.index), AZURE_FEDERATED_TOKEN_FILE: '/dev/null' },
          bin,
        ),
      ),
    );
    for (const leg of legs) expect(leg.code, leg.stderr).toBe(0);
    const files = readdirSync(path.join(dir, 'results')).sort();
    expect(files).toEqual(['1.jsonl', '2.jsonl', '3.jsonl']);
    const seen: string[] = [];
    for (const f of files) {
      const lines = readLines(path.join(dir, 'results', f));
      const summary = lines.at(-1);
      const k = f.replace('.jsonl', '');
      expect(summary).toMatchObject({ type: 'summary', command: 'apply', shard: `${k}/3`, exitCode: 0 });
      const tenantLines = lines.filter((l) => l.type === 'tenant');
      expect(summary.tenants).toBe(tenantLines.length);
      expect(tenantLines.length).toBe(matrix.include.find((l: any) => l.shard === `${k}/3`).tenants);
      for (const l of tenantLines) {
        expect(l.shard).toBe(`${k}/3`);
        expect(l.result.outcome).toBe('ok');
        seen.push(l.name);
      }
    }
    expect([...seen].sort()).toEqual([...names].sort());
    expect(new Set(seen).size).toBe(TENANTS);
  }, 180_000);

  it('Azure DevOps: a job matrix from `fleet matrix --format azure-devops`, the same apply command per leg, no secret', async () => {
    const text = readFileSync(path.join(root, 'templates/pipelines/azure-pipelines.yml'), 'utf8');
    expect(text).not.toMatch(/CLIENT_SECRET|client-secret|\$\(.*[Ss]ecret.*\)/);
    const matrixJob = ado.jobs.find((j: any) => j.job === 'matrix');
    const script = matrixJob.steps.find((s: any) => s.name === 'shards').script as string;
    const rendered = script.replace('$(shards)', ado.variables.shards);
    const m = await runScript(rendered, dir, {}, bin);
    expect(m.code, m.stderr).toBe(0);
    const legs = JSON.parse(/##vso\[task\.setvariable variable=legs;isOutput=true\](.*)$/m.exec(m.stdout)![1]!);
    expect(Object.values(legs).map((l: any) => l.shard)).toEqual(['1/3', '2/3', '3/3']);
    const apply = ado.jobs.find((j: any) => j.job === 'apply');
    expect(apply.strategy.matrix).toBe("$[ dependencies.matrix.outputs['shards.legs'] ]");
    const task = apply.steps.find((s: any) => s.task === 'AzureCLI@2');
    expect(task.inputs.addSpnToEnvironment).toBe(true);
    for (const leg of Object.values(legs) as any[]) {
      const cmd = (task.inputs.inlineScript as string).replace('$(shard)', leg.shard).replace('$(index)', leg.index);
      expect(cmd).toContain(
        `sendasapp apply --fleet fleet.yaml --shard "${leg.shard}" --auth workload-identity --output jsonl > "results/${leg.index}.jsonl"`,
      );
    }
    const report = ado.jobs.find((j: any) => j.job === 'report');
    expect(report.condition).toBe('always()');
    expect(report.steps.map((s: any) => s.script ?? '').join('\n')).toContain('sendasapp fleet report');
  });
});

describe('fleet output and Ctrl-C, with the built CLI', () => {
  let emu: TestEmulator;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    emu = await startTestEmulator({ seed: { generate: { tenants: 8, mailboxesPerTenant: 2 } } });
    dir = tempDir('sendasapp-e2e-fleet-');
    file = writeFleet(dir, emu, 4);
  });
  afterAll(async () => emu?.close());

  it('--output json is one object: the command, a tenant entry each (with the single-tenant result), the summary', async () => {
    const r = await runCli(['apply', '--fleet', file, '--output', 'json', '--parallel', '2']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.command).toBe('apply');
    expect(out.tenants.map((t: any) => t.name)).toEqual(names.slice(0, 4));
    for (const t of out.tenants) {
      expect(t.type).toBeUndefined();
      expect(t.exitCode).toBe(0);
      expect(t.result).toMatchObject({ command: 'apply', outcome: 'ok' });
      expect(t.result.verification.status).toBe('passed');
    }
    expect(out.summary).toMatchObject({ command: 'apply', tenants: 4, counts: { ok: 4 }, exitCode: 0 });
    // Without a terminal: plain progress lines on stderr, each with its tenant's name.
    expect(r.stderr).toMatch(/^\[customer-1\] started$/m);
    expect(r.stderr).toMatch(/^\[customer-3\] ✓ \[customer-3\]|^✓ \[customer-3\]: ok in/m);
  }, 120_000);

  it("verify --fleet proves each entry's app with the credential its secretOut file holds, and names an entry without one", async () => {
    const r = await runCli(['verify', '--fleet', file, '--output', 'jsonl']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const tenantLines = lines.filter((l) => l.type === 'tenant');
    expect(tenantLines.map((l) => l.name).sort()).toEqual(names.slice(0, 4).sort());
    for (const l of tenantLines) {
      expect(l.result).toMatchObject({ command: 'verify', outcome: 'ok' });
      expect(l.result.verification.status).toBe('passed');
      expect(l.result.application.appId).toBe(
        readJsonFile(path.join(dir, 'secrets', `${names.indexOf(l.name) + 1}.json`)).clientId,
      );
    }
    expect(lines.at(-1)).toMatchObject({ type: 'summary', command: 'verify', counts: { ok: 4 }, exitCode: 0 });
    // An entry whose apply never wrote its secretOut file: that tenant is bad input, the others still pass.
    const partial = writeFleet(tempDir('sendasapp-e2e-fleet-verify-'), emu, 2);
    const again = await runCli(['verify', '--fleet', partial, '--output', 'json']);
    expect(again.code).toBe(1);
    const out = JSON.parse(again.stdout);
    expect(out.tenants.map((t: any) => t.result.outcome)).toEqual(['bad-input', 'bad-input']);
    expect(out.tenants[0].result.error.message).toMatch(/names no app|cannot read/);
  }, 120_000);

  it('--report writes the fleet report of the run: HTML (every tenant a row, nothing fetched from outside), or Markdown for a .md name', async () => {
    const html = path.join(dir, 'report.html');
    const r = await runCli(['status', '--fleet', file, '--report', html, '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Fleet report written to ${html}`);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/i);
    for (const n of names.slice(0, 4)) expect(page).toContain(n);
    expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']https?:/i);
    // The stdout result is unchanged by --report: still the one JSON object.
    expect(JSON.parse(r.stdout).summary).toMatchObject({ tenants: 4, exitCode: 0 });
    const md = path.join(dir, 'report.md');
    const m = await runCli(['status', '--fleet', file, '--report', md]);
    expect(m.code, m.stderr).toBe(0);
    const text = readFileSync(md, 'utf8');
    for (const n of names.slice(0, 4)) expect(text).toMatch(new RegExp(`\\| ${n} `));
    // Not a file name: bad input before any tenant is called.
    const bad = await runCli(['status', '--fleet', file, '--report', ' ']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--report');
  }, 120_000);

  it('status --fleet in text: a line per tenant and the counts on stdout, exit 0', async () => {
    const r = await runCli(['status', '--fleet', file]);
    expect(r.code, r.stderr).toBe(0);
    for (const n of names.slice(0, 4))
      expect(r.stdout).toMatch(new RegExp(`^✓ ${n} \\(tenant\\d\\.onmicrosoft\\.com\\): ok$`, 'm'));
    expect(r.stdout).toMatch(/^4 tenant\(s\): 4 ok; exit 0\.$/m);
  }, 120_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s mid-fleet: no tenant starts after it, the running ones stop at a safe point, exit %d, the lines still whole',
    async (sig, code) => {
      const big = writeFleet(tempDir('sendasapp-e2e-fleet-int-'), emu, 8, { appName: `Interrupted Relay ${sig}` });
      // Slow enough that tenants are still running when the first one ends.
      await emu.control.setKnobs({ latency: { token: 0, graph: 60, exchange: 250, smtp: 0 } });
      try {
        const cli = spawnCli(['apply', '--fleet', big, '--output', 'jsonl', '--parallel', '2']);
        for (let i = 0; !/: ok in /.test(cli.stderr()); i++) {
          if (i > 1200) throw new Error(`no tenant ended: ${cli.stderr()}`);
          await sleep(25);
        }
        const startedBefore = (cli.stderr().match(/\] started$/gm) ?? []).length;
        cli.child.kill(sig);
        const r = await cli.exited;
        expect(r.code, r.stderr).toBe(code);
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const summary = lines.at(-1);
        expect(summary).toMatchObject({ type: 'summary', tenants: 8, exitCode: code });
        const tenantLines = lines.filter((l) => l.type === 'tenant');
        expect(tenantLines.map((l) => l.name).sort()).toEqual(names.slice(0, 8).sort());
        const outcomes = tenantLines.map((l) => l.result.outcome);
        expect(outcomes.every((o) => ['ok', 'interrupted', 'not-started'].includes(o))).toBe(true);
        // Nothing started after the signal: the fleet says when it took it, and no tenant starts after that line.
        const stopAt = r.stderr.search(new RegExp(`^Stopping on ${sig}: no tenant starts now`, 'm'));
        expect(stopAt, r.stderr).toBeGreaterThan(-1);
        const startedAtStop = (r.stderr.slice(0, stopAt).match(/\] started$/gm) ?? []).length;
        expect(startedAtStop).toBeGreaterThanOrEqual(startedBefore);
        expect((r.stderr.slice(stopAt).match(/\] started$/gm) ?? []).length).toBe(0);
        expect(outcomes.filter((o) => o === 'not-started').length).toBe(8 - startedAtStop);
        expect(8 - startedAtStop).toBeGreaterThan(0);
        // A tenant stopped while running says what it changed, as a single apply does.
        const stopped = tenantLines.filter((x) => x.result.outcome === 'interrupted');
        expect(stopped.length).toBeGreaterThan(0);
        for (const l of stopped) {
          expect(l.exitCode).toBe(code);
          expect(l.result.interrupted?.signal ?? l.result.error?.code).toMatch(new RegExp(`^(${sig}|interrupted)$`));
        }
        expect(summary.counts['not-started']).toBe(8 - startedAtStop);
      } finally {
        await emu.control.setKnobs({ latency: { token: 0, graph: 0, exchange: 0, smtp: 0 } });
      }
    },
    120_000,
  );
});
