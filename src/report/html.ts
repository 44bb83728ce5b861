/**
 * The HTML report: one self-contained file (inline CSS, inline script, an inline SVG chart; a Content-Security-Policy
 * that allows no request at all), a row per tenant, sortable by column and filterable by status and text. Every
 * value is escaped; no secret can reach it (the reader drops them).
 */
import type { FleetReport } from './merge.js';
import { reportAsOf, reportRows, type RowOptions, type TenantRow } from './rows.js';

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Outcomes in the order people want to see them: what needs them first. */
export const OUTCOME_ORDER = [
  'failed',
  'bad-input',
  'interrupted',
  'proof-not-passed',
  'waiting',
  'changes-pending',
  'ok',
] as const;

const COLOR: Record<string, string> = {
  ok: '#2e7d32',
  'changes-pending': '#1565c0',
  waiting: '#ef6c00',
  'proof-not-passed': '#ef6c00',
  failed: '#c62828',
  'bad-input': '#c62828',
  interrupted: '#6a1b9a',
};

const rank = (outcome: string): number => {
  const i = (OUTCOME_ORDER as readonly string[]).indexOf(outcome);
  return i < 0 ? OUTCOME_ORDER.length : i;
};

/** The outcomes present, in display order (unknown ones last). */
export function orderedCounts(counts: Record<string, number>): Array<[string, number]> {
  return Object.entries(counts).sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

function chart(counts: Record<string, number>): string {
  const entries = orderedCounts(counts);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const barH = 22;
  const gap = 8;
  const labelW = 130;
  const barW = 360;
  const height = Math.max(1, entries.length) * (barH + gap);
  const bars = entries
    .map(([outcome, n], i) => {
      const y = i * (barH + gap);
      const w = Math.max(2, Math.round((n / max) * barW));
      return (
        `<g class="bar" data-outcome="${escapeHtml(outcome)}">` +
        `<text x="${labelW - 8}" y="${y + barH * 0.7}" text-anchor="end">${escapeHtml(outcome)}</text>` +
        `<rect x="${labelW}" y="${y}" width="${w}" height="${barH}" rx="3" fill="${COLOR[outcome] ?? '#546e7a'}"></rect>` +
        `<text x="${labelW + w + 6}" y="${y + barH * 0.7}" class="n">${n}</text></g>`
      );
    })
    .join('');
  return (
    `<svg id="chart" role="img" aria-label="tenants per outcome" xmlns="http://www.w3.org/2000/svg" ` +
    `width="${labelW + barW + 50}" height="${height}" viewBox="0 0 ${labelW + barW + 50} ${height}">` +
    `<title>tenants per outcome</title>${bars}</svg>`
  );
}

function daysText(days: number): string {
  if (days < 0) return `ended ${-days} day(s) ago`;
  return `${days} day${days === 1 ? '' : 's'} left`;
}

function cells(r: TenantRow, windowText: string): string[] {
  const td = (cls: string, sort: string | number, body: string): string =>
    `<td class="${cls}" data-sort="${escapeHtml(sort)}">${body}</td>`;
  const expiry = r.credentials.length
    ? r.credentials
        .map(
          (c) =>
            `<div class="cred${c.warning ? ' warn' : ''}"${c.warning ? ` title="ends within ${escapeHtml(windowText)}"` : ''}>` +
            `${c.warning ? '⚠ ' : ''}${escapeHtml(c.type)} ${escapeHtml(c.expires.slice(0, 10))}: ` +
            `<span class="days">${escapeHtml(daysText(c.daysLeft))}</span></div>`,
        )
        .join('')
    : '<span class="none">none</span>';
  const problems = r.problems.length
    ? `<ul>${r.problems
        .map(
          (p) =>
            `<li><span class="what">${escapeHtml(p.what)}</span>${p.fix ? `<div class="fix"><b>Fix:</b> ${escapeHtml(p.fix)}</div>` : ''}</li>`,
        )
        .join('')}</ul>`
    : '';
  return [
    td(
      'name',
      r.name.toLowerCase(),
      `<div class="entry">${escapeHtml(r.name)}</div><div class="sub">${escapeHtml(r.tenant)}${r.shard ? ` · shard ${escapeHtml(r.shard)}` : ''}</div>`,
    ),
    td(
      'status',
      rank(r.outcome),
      `<span class="badge" style="background:${COLOR[r.outcome] ?? '#546e7a'}">${escapeHtml(r.outcome)}</span><div class="sub">exit ${r.exitCode}</div>`,
    ),
    td(
      'app',
      r.app.toLowerCase(),
      `<div>${escapeHtml(r.app || '—')}</div><div class="sub">${escapeHtml(r.mode ?? 'mode unknown')}</div>` +
        (r.appId ? `<div class="sub id">${escapeHtml(r.appId)}</div>` : ''),
    ),
    td('mailboxes', r.mailboxes.length, r.mailboxes.map((m) => `<div>${escapeHtml(m)}</div>`).join('') || '—'),
    td('smtp', r.smtpAuth, escapeHtml(r.smtpAuth)),
    td(
      `proof proof-${escapeHtml(r.proof.status)}`,
      r.proof.status,
      `<div>${escapeHtml(r.proof.status)}</div><div class="sub">${escapeHtml(r.proof.reply)}</div>`,
    ),
    td(`expiry${r.credentials.some((c) => c.warning) ? ' warn' : ''}`, r.soonestDaysLeft ?? 1e9, expiry),
    td('problems', r.problems.length, problems),
  ];
}

const COLUMNS: Array<[string, 'text' | 'number']> = [
  ['Tenant', 'text'],
  ['Status', 'number'],
  ['App and mode', 'text'],
  ['Mailboxes', 'number'],
  ['SMTP AUTH', 'text'],
  ['Proof', 'text'],
  ['Credential expiry', 'number'],
  ['Problems and fixes', 'number'],
];

const STYLE = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f7f8fa}
body{margin:0;padding:24px}h1{margin:0 0 4px;font-size:22px}.meta{color:#52606d;margin:0 0 16px}
.summary{display:flex;gap:32px;align-items:center;background:#fff;border:1px solid #d9dee3;border-radius:6px;padding:16px;margin-bottom:16px}
.summary svg text{font-size:13px;fill:#1f2933}.summary ul{margin:0;padding-left:18px}
.warnings{background:#fff8e1;border:1px solid #ffe082;border-radius:6px;padding:8px 16px;margin-bottom:16px}
.controls{display:flex;gap:16px;align-items:center;margin-bottom:8px}.controls input{min-width:260px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dee3;font-size:13px}
th{background:#eef1f4;text-align:left;padding:0}th button{all:unset;cursor:pointer;display:block;padding:8px;font-weight:600}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
td{padding:8px;border-top:1px solid #e4e7eb;vertical-align:top}.sub{color:#52606d;font-size:12px}
.badge{color:#fff;border-radius:10px;padding:2px 8px;font-weight:600;white-space:nowrap}
td.expiry.warn{background:#fff3cd}.cred.warn{color:#8a4b00;font-weight:600}.none{color:#9aa5b1}
td.problems{min-width:320px;overflow-wrap:anywhere}td.problems ul{margin:0;padding-left:16px}
.id{font-family:ui-monospace,Consolas,monospace;font-size:11px;white-space:nowrap}.cred .days{display:block}.cred{white-space:nowrap}.fix{color:#0b5394}tr[hidden]{display:none}
`;

/** The script: sort by a column (click its header), filter by status and by text; counts what is shown. */
const SCRIPT = `
(function(){
  var table=document.getElementById('tenants'),body=table.tBodies[0];
  var rows=Array.prototype.slice.call(body.rows),status=document.getElementById('status-filter');
  var search=document.getElementById('search'),shown=document.getElementById('shown');
  function filter(){
    var s=status.value,q=search.value.trim().toLowerCase(),n=0;
    rows.forEach(function(r){
      var ok=(!s||r.getAttribute('data-outcome')===s)&&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
      r.hidden=!ok;if(ok)n++;
    });
    shown.textContent=n+' of '+rows.length+' tenants shown';
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.querySelector('button').addEventListener('click',function(){
      var dir=th.getAttribute('aria-sort')==='ascending'?-1:1,num=th.getAttribute('data-type')==='number';
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',dir===1?'ascending':'descending');
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-sort'),y=b.cells[i].getAttribute('data-sort');
        var c=num?Number(x)-Number(y):x.localeCompare(y);
        return c*dir||a.getAttribute('data-index')-b.getAttribute('data-index');
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  status.addEventListener('change',filter);search.addEventListener('input',filter);filter();
})();
`;

export interface HtmlOptions extends Partial<RowOptions> {
  /** How the warning window reads (`30d`), for the highlight's tooltip. */
  expiryWarningText?: string;
}

export function renderHtml(report: FleetReport, o: HtmlOptions = {}): string {
  const asOf = o.asOf ?? reportAsOf(report);
  const rows = reportRows(report, { ...o, asOf });
  const s = report.summary;
  const windowText = o.expiryWarningText ?? '30d';
  const counts = orderedCounts(s.counts);
  const meta = [
    `${s.tenants} tenant${s.tenants === 1 ? '' : 's'}`,
    `exit code ${s.exitCode}`,
    `as of ${new Date(asOf).toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    `credentials ending within ${windowText} highlighted`,
    ...(s.shards.length ? [`shards ${s.shards.join(', ')}`] : []),
    `from ${s.files.map((f) => f.split(/[\\/]/).pop()).join(', ')}`,
  ];
  const options = counts
    .map(([outcome, n]) => `<option value="${escapeHtml(outcome)}">${escapeHtml(outcome)} (${n})</option>`)
    .join('');
  const head = COLUMNS.map(
    ([label, type]) => `<th scope="col" data-type="${type}"><button type="button">${escapeHtml(label)}</button></th>`,
  ).join('');
  const body = rows
    .map(
      (r, i) =>
        `<tr data-index="${i}" data-outcome="${escapeHtml(r.outcome)}"${r.credentials.some((c) => c.warning) ? ' class="expiring"' : ''}>` +
        `${cells(r, windowText).join('')}</tr>`,
    )
    .join('\n');
  const warnings = report.warnings.length
    ? `<section class="warnings"><b>About the input</b><ul>${report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sendasapp fleet report: ${escapeHtml(s.command)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>sendasapp fleet report: ${escapeHtml(s.command)}</h1><p class="meta">${meta.map(escapeHtml).join(' · ')}</p></header>
<section class="summary">${chart(s.counts)}<ul>${counts.map(([outcome, n]) => `<li>${escapeHtml(outcome)}: ${n}</li>`).join('')}</ul></section>
${warnings}
<div class="controls">
<label>Status <select id="status-filter"><option value="">all</option>${options}</select></label>
<label>Search <input id="search" type="search" placeholder="tenant, app, mailbox, error…"></label>
<span id="shown" aria-live="polite"></span>
</div>
<table id="tenants">
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
