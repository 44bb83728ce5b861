/**
 * The fleet report room: reads the result files of fleet runs (the JSONL/JSON contract), merges shards, and renders
 * the HTML page, the Markdown and the summary.
 */
export {
  OUTCOMES,
  tenantResultSchema,
  tenantEntrySchema,
  summarySchema,
  jsonlLineSchema,
  fleetJsonSchema,
  type TenantResult,
  type TenantEntry,
  type FleetSummary,
  type FleetJson,
} from './schema.js';
export { readResultFile, parseFleetJson, withoutSecrets, ReportInputError, type ResultFile } from './read.js';
export {
  mergeResults,
  fleetExitCode,
  outcomeOf,
  type FleetReport,
  type ReportTenant,
  type ReportSummary,
} from './merge.js';
export {
  reportRows,
  tenantRow,
  reportAsOf,
  splitFix,
  type TenantRow,
  type CredentialCell,
  type Problem,
} from './rows.js';
export { renderHtml, escapeHtml, orderedCounts } from './html.js';
export { renderMarkdown, mdCell } from './markdown.js';
export { summaryLines, reportJson } from './text.js';
export { writeReportFiles, writeFleetReport, type ReportFiles, type WrittenReport } from './write.js';
