/**
 * `sendasapp fleet report <files…>`: merges the result files of fleet runs (one run's, or its shards') into one
 * report — the summary on stdout (or one JSON object with every tenant), the HTML page and the Markdown where asked —
 * and exits as the fleet run would have: 0 all done, 1 any failed, 3 any waiting. A file that breaks the contract is
 * bad input (exit 2) naming its file and line.
 */
import { resolveOptions } from '../config/index.js';
import {
  mergeResults,
  readResultFile,
  ReportInputError,
  reportJson,
  reportRows,
  summaryLines,
  writeReportFiles,
  type FleetReport,
} from '../report/index.js';
import { CliError, ExitCode, fromConfigError, isConfigError } from './exit-codes.js';
import { printJson, result, say } from './output.js';

export interface FleetReportFlags extends Record<string, unknown> {
  file?: string;
  html?: string;
  markdown?: string;
}

const asCliError = (err: unknown): unknown => {
  if (err instanceof ReportInputError)
    return new CliError(err.message, ExitCode.badInput, { code: 'bad-input', field: err.where });
  if (isConfigError(err)) return fromConfigError(err);
  return err;
};

function readAll(files: string[]): FleetReport {
  try {
    return mergeResults(files.map(readResultFile));
  } catch (err) {
    throw asCliError(err);
  }
}

export async function fleetReportCommand(files: string[], flags: FleetReportFlags): Promise<number> {
  let o: ReturnType<typeof resolveOptions>;
  try {
    o = resolveOptions({ flags, file: flags.file });
  } catch (err) {
    throw asCliError(err);
  }
  const json = o.output === 'json';
  if (flags.markdown === '-' && json)
    throw new CliError(
      '--markdown -: stdout holds the JSON object with --output json; give the Markdown a file',
      ExitCode.badInput,
      { field: '--markdown' },
    );
  const report = readAll(files);
  for (const w of report.warnings) say(`warning: ${w}`);
  const window = { expiryWarningMs: o.expiryWarning.ms, expiryWarningText: o.expiryWarning.text };
  let written;
  try {
    written = writeReportFiles(report, { ...window, html: flags.html, markdown: flags.markdown });
  } catch (err) {
    throw asCliError(err);
  }
  if (json) printJson({ ...reportJson(report), written: { html: written.html, markdown: written.markdown } });
  else {
    const lines = summaryLines(report, reportRows(report, window));
    // With the Markdown on stdout, the summary goes beside the progress.
    for (const l of lines) (written.markdownText !== undefined ? say : result)(l);
    if (written.markdownText !== undefined) process.stdout.write(written.markdownText);
  }
  if (written.html) say(`Wrote the HTML report to ${written.html}.`);
  if (written.markdown) say(`Wrote the Markdown report to ${written.markdown}.`);
  return report.summary.exitCode;
}
