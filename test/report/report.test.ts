/**
 * The fleet report from REAL runs (test/report/fixtures.ts: five emulator tenants through the single-tenant CLI,
 * wrapped in the fleet contract): reading validates every line and names the file and line at fault; three shard
 * files merge into the same report as one run's file; a tenant run twice keeps its later result with a warning; the
 * Markdown and HTML escape every value and never carry a secret; and `sendasapp fleet report` (the built CLI) exits
 * as the fleet run would: 0 all ok, 1 any failed, 3 any waiting, 2 for a malformed file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  mergeResults,
  readResultFile,
  renderHtml,
  renderMarkdown,
  reportJson,
  reportRows,
  writeFleetReport,
  ReportInputError,
  type FleetReport,
} from '../../src/report/index.js';
import { runCli } from '../helpers/cli.js';
import { makeFleetFixtures, SCRIPT_NAME, type FleetFixtures } from './fixtures.js';

const DAY_MS = 86_400_000;
const merged = (...files: string[]): FleetReport => mergeResults(files.map(readResultFile));

/** Writes a copy of a file with one line changed. */
function withLine(f: FleetFixtures, name: string, from: string, line: number, edit: (l: string) => string): string {
  const lines = readFileSync(from, 'utf8').split('\n');
  lines[line - 1] = edit(lines[line - 1]!);
  const file = path.join(f.dir, name);
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** The rows of the Markdown's tenant table, without the shard each came from. */
const tableRows = (md: string): string[] =>
  md
    .split('\n')
    .filter((l) => l.startsWith('| ') && /\(.*\.onmicrosoft\.com/.test(l))
    .map((l) => l.replace(/, shard \d\/3/, ''));

let f: FleetFixtures;
beforeAll(async () => {
  f = await makeFleetFixtures();
}, 120_000);

describe('reading the contract', () => {
  it('reads every line of a real run, as JSONL and as the JSON form', () => {
    const jsonl = readResultFile(f.oneRun);
    const json = readResultFile(f.oneRunJson);
    expect(jsonl.tenants.map((t) => t.name).sort()).toEqual(Object.keys(f.lines).sort());
    expect(json.tenants.map((t) => t.name).sort()).toEqual(Object.keys(f.lines).sort());
    expect(jsonl.summary).toMatchObject({ command: 'apply', tenants: 5, exitCode: 1 });
    expect(json.summary).toMatchObject({ command: 'apply', tenants: 5, exitCode: 1 });
    expect(jsonl.tenants.map((t) => t.result.outcome).sort()).toEqual(['bad-input', 'ok', 'ok', 'ok', 'waiting']);
  });

  it('a line that breaks the contract is bad input naming the file, the line and the field', () => {
    const bad = withLine(f, 'bad-outcome.jsonl', f.oneRun, 3, (l) => l.replace(/"outcome":"ok"/, '"outcome":"great"'));
    expect(() => readResultFile(bad)).toThrow(ReportInputError);
    expect(() => readResultFile(bad)).toThrow(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: result\\.outcome: `),
    );
    const notJson = withLine(f, 'not-json.jsonl', f.oneRun, 2, (l) => l.slice(0, 40));
    expect(() => readResultFile(notJson)).toThrow(/not-json\.jsonl:2: is not JSON/);
    const noName = withLine(f, 'no-name.jsonl', f.oneRun, 1, (l) => l.replace(/"name":"[^"]*",/, ''));
    expect(() => readResultFile(noName)).toThrow(/no-name\.jsonl:1: name: /);
    const summaryFirst = path.join(f.dir, 'summary-first.jsonl');
    const lines = readFileSync(f.oneRun, 'utf8').trim().split('\n');
    writeFileSync(summaryFirst, [lines.at(-1), ...lines.slice(0, -1)].join('\n'));
    expect(() => readResultFile(summaryFirst)).toThrow(/summary-first\.jsonl:2: comes after the summary line/);
  });
});

describe('a fleet status run', () => {
  it('shows the credential inside the window and the drift with its fix; findings are no failure (exit 0)', () => {
    const report = merged(f.statusRun);
    expect(report.summary.command).toBe('status');
    expect(report.summary.exitCode).toBe(0);
    const rows = reportRows(report);
    const woodgrove = rows.find((r) => r.name === SCRIPT_NAME)!;
    expect(woodgrove.credentials.filter((c) => c.warning)).toHaveLength(1);
    expect(woodgrove.problems).toEqual([]);
    const contoso = rows.find((r) => r.name === 'Contoso HQ')!;
    expect(contoso.credentials.some((c) => c.warning)).toBe(false);
    expect(contoso.problems).toEqual([
      {
        // The new mailbox needs its access and its SMTP AUTH setting, and the app's provenance record names it.
        what: '3 resource(s) differ from the configuration (drift): exchange.smtpAuth, entra.provenance, exchange.mailboxAccess:it@contoso.onmicrosoft.com',
        fix: 'run apply with the same options',
      },
    ]);
    expect(renderHtml(report).match(/<td class="expiry warn"/g)).toHaveLength(1);
  });
});

describe('a run that never opened', () => {
  it('a tenant whose result is only an error object gets its status from its exit code, and its message as the problem', async () => {
    const r = await runCli(['apply', '--tenant', 'not a tenant', '--mailbox', 'a@contoso.com', '--output', 'json']);
    expect(r.code).toBe(2);
    const line = { name: 'Typo Ltd', tenant: 'not a tenant', exitCode: r.code!, result: r.json<any>() };
    expect(line.result.outcome).toBeUndefined();
    const file = f.writeJsonl('typo.jsonl', [line]);
    const report = merged(file);
    expect(report.tenants[0]!.outcome).toBe('bad-input');
    expect(report.summary.exitCode).toBe(1);
    const row = reportRows(report)[0]!;
    expect(row.problems).toEqual([{ what: line.result.error.message }]);
    expect(row.proof).toEqual({ status: 'skipped', reply: 'not run' });
  });
});

describe('merging shards', () => {
  it('three shard files give the same report as the one run', () => {
    const one = merged(f.oneRun);
    const shards = merged(...f.shards);
    const asOf = Date.parse(one.summary.finishedAt!);
    expect(shards.warnings).toEqual([]);
    expect(shards.summary).toMatchObject({ tenants: 5, exitCode: 1, shards: ['1/3', '2/3', '3/3'] });
    expect(shards.summary.counts).toEqual(one.summary.counts);
    expect(one.summary.counts).toEqual({ ok: 3, waiting: 1, 'bad-input': 1 });
    const rows = (r: FleetReport) => reportRows(r, { asOf }).map(({ shard: _shard, ...row }) => row);
    expect(rows(shards)).toEqual(rows(one));
    expect(tableRows(renderMarkdown(shards, { asOf }))).toEqual(tableRows(renderMarkdown(one, { asOf })));
    expect(tableRows(renderMarkdown(one, { asOf }))).toHaveLength(5);
    // The JSON form of the same run: the same report again.
    expect(rows(merged(f.oneRunJson))).toEqual(rows(one));
  });

  it('a tenant in two files keeps its later result (by finishedAt, whatever the order) and a warning names both', () => {
    for (const files of [
      [...f.shards, f.rerun],
      [f.rerun, ...f.shards],
    ]) {
      const r = merged(...files);
      expect(r.tenants).toHaveLength(5);
      const tailspin = r.tenants.find((t) => t.entry.name === 'Tailspin Toys')!;
      expect(tailspin.outcome).toBe('ok');
      expect(tailspin.file).toBe(f.rerun);
      expect(r.summary.counts).toEqual({ ok: 4, 'bad-input': 1 });
      expect(r.summary.exitCode).toBe(1);
      const w = r.warnings.find((x) => x.includes('"Tailspin Toys"'));
      expect(w).toContain(f.shards[0]);
      expect(w).toContain(`kept the result of ${f.rerun}`);
    }
  });

  it('a file without its summary line says so in a sentence, and its tenants still count', () => {
    const cut = f.writeJsonl('cut.jsonl', [f.lines.Northwind!], { summary: false });
    expect(readResultFile(cut).summary).toBeUndefined();
    const r = merged(f.shards[0]!, cut);
    expect(r.warnings).toEqual([
      `${cut} has no summary line: its run may have stopped before the end (1 tenant result(s) read from it).`,
    ]);
    expect(r.tenants.map((t) => t.entry.name)).toContain('Northwind');
    expect(r.summary.exitCode).toBe(1);
  });
});

describe('rendering', () => {
  it('Markdown: the counts, a row per tenant with its problem and fix, the expiring credential marked', () => {
    const report = merged(f.oneRun);
    const md = renderMarkdown(report);
    expect(md).toMatch(/^## sendasapp fleet report: apply\n/);
    expect(md).toContain('| ok | 3 |');
    expect(md).toContain('| waiting | 1 |');
    expect(md).toContain('| bad-input | 1 |');
    const rows = tableRows(md);
    expect(rows).toHaveLength(5);
    const northwind = rows.find((l) => l.startsWith('| Northwind'))!;
    expect(northwind).toMatch(
      /\| bad-input \|.*is not a mailbox in northwind\.onmicrosoft\.com\. Fix: check the address/,
    );
    const woodgrove = rows.find((l) => l.startsWith('| Woodgrove'))!;
    expect(woodgrove).toContain('Woodgrove &lt;script&gt;alert("x")&lt;/script&gt;');
    expect(woodgrove).toContain('Payroll &lt;b&gt;bold&lt;/b&gt; &amp; "Co" (send-as)');
    expect(woodgrove).toMatch(/\*\*⚠ \d{4}-\d\d-\d\d \((19|20) d left\), within 30d\*\*/);
    expect(rows.filter((l) => l.includes('⚠'))).toHaveLength(1);
    expect(rows.find((l) => l.startsWith('| Fabrikam'))).toContain('Fabrikam ERP (rbac)');
    // A shorter --expiry-warning: nothing inside it.
    expect(renderMarkdown(report, { expiryWarningMs: 10 * DAY_MS, expiryWarningText: '10d' })).not.toContain('⚠');
  });

  it('HTML: one self-contained page, every value escaped', () => {
    const html = renderHtml(merged(f.oneRun));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/\ssrc=|\shref=|url\(|@import/);
    // Only the page's own script: the entry name's is text.
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Woodgrove &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('Payroll &lt;b&gt;bold&lt;/b&gt; &amp; &quot;Co&quot;');
    expect(html).not.toContain('<b>bold</b>');
    expect(html.match(/<tr data-index=/g)).toHaveLength(5);
    expect(html).toContain('<svg id="chart"');
  });

  it('never carries a secret, even one --show-secret put into a result', () => {
    expect(f.secret).toMatch(/.{20,}/);
    expect(readFileSync(f.oneRun, 'utf8')).toContain(f.secret);
    const report = merged(f.oneRun, f.oneRunJson);
    const outputs = [renderHtml(report), renderMarkdown(report), JSON.stringify(reportJson(report))];
    for (const out of outputs) expect(out).not.toContain(f.secret);
    expect(JSON.stringify(reportJson(report))).not.toMatch(/"secret":/);
    const contoso = report.tenants.find((t) => t.entry.name === 'Contoso HQ')!;
    expect(contoso.entry.result.credential).toMatchObject({ type: 'secret', keyId: expect.any(String) });
  });

  it('writeFleetReport: a fleet run’s JSON result straight to the HTML and Markdown files', () => {
    const html = path.join(f.dir, 'run.html');
    const md = path.join(f.dir, 'run.md');
    const written = writeFleetReport(JSON.parse(readFileSync(f.oneRunJson, 'utf8')), { html, markdown: md });
    expect(written).toEqual({ html, markdown: md });
    expect(readFileSync(html, 'utf8')).toContain(SCRIPT_NAME.replace('<', '&lt;').replace('>', '&gt;').slice(0, 15));
    expect(readFileSync(html, 'utf8')).not.toContain(f.secret);
    expect(readFileSync(md, 'utf8')).toContain('| ok | 3 |');
    expect(() => writeFleetReport({ command: 'apply', tenants: [{ name: 'x' }] }, {})).toThrow(
      /^the fleet result: tenants\[0\]\.tenant: /,
    );
  });
});

describe('sendasapp fleet report (the built CLI)', () => {
  const lines = (...names: string[]) => names.map((n) => f.lines[n]!);

  it('exit codes follow the merged results: 0 all ok, 3 any waiting, 1 any failed', async () => {
    const ok = f.writeJsonl('ok.jsonl', lines('Contoso HQ', 'Fabrikam'));
    const waiting = f.writeJsonl('waiting.jsonl', lines('Contoso HQ', 'Tailspin Toys'));
    const r0 = await runCli(['fleet', 'report', ok]);
    expect(r0.code, r0.stderr).toBe(0);
    expect(r0.stdout).toMatch(/^Fleet report \(apply\): 2 tenant\(s\) from 1 file\(s\): 2 ok\. Exit code 0\./);
    const r3 = await runCli(['fleet', 'report', waiting]);
    expect(r3.code, r3.stderr).toBe(3);
    expect(r3.stdout).toMatch(/… Tailspin Toys \(tailspin\.onmicrosoft\.com\): waiting — .*waiting for admin consent/);
    const r1 = await runCli(['fleet', 'report', ...f.shards]);
    expect(r1.code, r1.stderr).toBe(1);
    expect(r1.stdout).toMatch(
      /5 tenant\(s\) from 3 file\(s\), shards 1\/3, 2\/3, 3\/3: 1 bad-input, 1 waiting, 3 ok\. Exit code 1\./,
    );
    expect(r1.stdout).toMatch(/✗ Northwind .*Fix: check the address/);
    // The shards and their rerun: the waiting tenant is ok now, Northwind still fails.
    const again = await runCli(['fleet', 'report', ...f.shards, f.rerun]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/warning: tenant "Tailspin Toys" is in .* kept the result of .*rerun\.jsonl/);
  });

  it('a malformed file is exit 2 naming file:line (in the JSON error too); so is a missing one', async () => {
    const bad = withLine(f, 'cli-bad.jsonl', f.oneRun, 2, (l) => l.replace(/"exitCode":\d+/, '"exitCode":"three"'));
    const r = await runCli(['fleet', 'report', f.shards[0]!, bad, '--output', 'json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${bad}:2: exitCode: `);
    expect(r.json<any>().error).toMatchObject({ code: 'bad-input', field: `${bad}:2` });
    const missing = await runCli(['fleet', 'report', path.join(f.dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.jsonl: cannot be read \(ENOENT\)/);
  });

  it('--output json: one object with every tenant, which fleet report reads again', async () => {
    const r = await runCli(['fleet', 'report', ...f.shards, '--output', 'json']);
    expect(r.code).toBe(1);
    const out = r.json<any>();
    expect(out.tenants).toHaveLength(5);
    expect(out.summary).toMatchObject({ command: 'apply', tenants: 5, exitCode: 1, shards: ['1/3', '2/3', '3/3'] });
    expect(r.stdout).not.toContain(f.secret);
    const file = path.join(f.dir, 'merged.json');
    writeFileSync(file, r.stdout);
    const again = await runCli(['fleet', 'report', file, '--output', 'json']);
    expect(again.code).toBe(1);
    expect(again.json<any>().tenants.map((t: any) => t.name)).toEqual(out.tenants.map((t: any) => t.name));
  });

  it('writes --html and --markdown; --markdown - prints it; --expiry-warning moves the highlight', async () => {
    const html = path.join(f.dir, 'cli.html');
    const md = path.join(f.dir, 'cli.md');
    const r = await runCli(['fleet', 'report', f.oneRun, '--html', html, '--markdown', md]);
    expect(r.code).toBe(1);
    expect(existsSync(html) && existsSync(md)).toBe(true);
    expect(r.stderr).toContain(`Wrote the HTML report to ${html}.`);
    expect(readFileSync(md, 'utf8')).toContain('⚠');
    const printed = await runCli(['fleet', 'report', f.oneRun, '--markdown', '-', '--expiry-warning', '10d']);
    expect(printed.stdout).toMatch(/^## sendasapp fleet report: apply\n/);
    expect(printed.stdout).not.toContain('⚠');
    expect(printed.stderr).toMatch(/^Fleet report \(apply\)/m);
    const env = await runCli(['fleet', 'report', f.oneRun, '--markdown', '-'], {
      env: { SENDASAPP_EXPIRY_WARNING: '10d' },
    });
    expect(env.stdout).not.toContain('⚠');
    const clash = await runCli(['fleet', 'report', f.oneRun, '--markdown', '-', '--output', 'json']);
    expect(clash.code).toBe(2);
    expect(clash.json<any>().error.field).toBe('--markdown');
  });
});
