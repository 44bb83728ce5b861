/**
 * Writing the report files: the HTML page and the Markdown, from a merged report or straight from a fleet run's
 * result (what `--output json` of a fleet command prints), for the fleet commands' `--report`.
 */
import { writeFileSync } from 'node:fs';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { mergeResults, type FleetReport } from './merge.js';
import { parseFleetJson, ReportInputError } from './read.js';

export interface ReportFiles {
  /** Where the HTML page goes. */
  html?: string;
  /** Where the Markdown goes (`-`: the caller prints it). */
  markdown?: string;
  /** The highlight window for credential ends (--expiry-warning), in ms; default 30 days. */
  expiryWarningMs?: number;
  /** The same window as people write it (`30d`). */
  expiryWarningText?: string;
  /** Days are counted from this moment (default: the end of the runs). */
  asOf?: number;
}

export interface WrittenReport {
  html?: string;
  markdown?: string;
  /** The Markdown text (for `--markdown -`, printed by the caller). */
  markdownText?: string;
}

function write(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (err) {
    throw new ReportInputError(
      file,
      `cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** Renders and writes the files asked for. */
export function writeReportFiles(report: FleetReport, o: ReportFiles): WrittenReport {
  const out: WrittenReport = {};
  const rows = { expiryWarningMs: o.expiryWarningMs, expiryWarningText: o.expiryWarningText, asOf: o.asOf };
  if (o.html) {
    write(o.html, renderHtml(report, rows));
    out.html = o.html;
  }
  if (o.markdown) {
    const text = renderMarkdown(report, rows);
    if (o.markdown === '-') out.markdownText = text;
    else {
      write(o.markdown, text);
      out.markdown = o.markdown;
    }
  }
  return out;
}

/**
 * After a fleet run: its result object (`{ command, tenants, summary }`, as `--output json` prints it) to the report
 * files asked for. The object is validated like a file would be (a field at fault throws ReportInputError).
 */
export function writeFleetReport(results: unknown, o: ReportFiles): WrittenReport {
  const json = parseFleetJson(results, 'the fleet result');
  const report = mergeResults([
    { file: '(this run)', tenants: json.tenants, summary: json.summary, command: json.command },
  ]);
  return writeReportFiles(report, o);
}
