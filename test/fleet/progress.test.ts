/**
 * The fleet's progress on stderr: on a terminal one block redrawn in place (a line per running tenant, a line of
 * counts with the elapsed time), a tenant that did not end well leaving one line above it; without one, plain lines
 * with the tenant's name.
 */
import { describe, expect, it } from 'vitest';
import { fleetProgress } from '../../src/cli/fleet-progress.js';

// eslint-disable-next-line no-control-regex
const REDRAW = /\x1b\[(\d+)F\x1b\[0J/;

/** What a terminal would show after these writes (cursor-up-and-clear redraws applied). */
function screen(writes: string[]): string[] {
  const lines: string[] = [];
  for (const w of writes) {
    // eslint-disable-next-line no-control-regex
    let rest = w.replace(/\x1b\[\?25[lh]/g, '');
    const m = REDRAW.exec(rest);
    if (m && m.index === 0) {
      lines.splice(lines.length - Number(m[1]));
      rest = rest.slice(m[0].length);
    }
    lines.push(...rest.split('\n').slice(0, -1));
  }
  return lines;
}

describe('fleet progress', () => {
  it('on a terminal: one line per running tenant and the counts, redrawn in place, never a growing wall', () => {
    const writes: string[] = [];
    const p = fleetProgress({ tty: true, total: 5, write: (s) => writes.push(s), columns: () => 60, fps: 0.001 });
    for (const n of ['contoso', 'fabrikam', 'northwind']) p.start(n);
    p.line('contoso', '  + Application "Relay": created');
    p.line('fabrikam', 'Proving with an XOAUTH2 login…');
    p.end('northwind', 'ok', 1200);
    let shown = screen(writes);
    expect(shown).toHaveLength(3);
    expect(shown[0]).toMatch(/^ {2}contoso {2}\d+ s {2}\+ Application "Relay": created$/);
    expect(shown[1]).toMatch(/^ {2}fabrikam .*Proving with an XOAUTH2 login…$/);
    expect(shown[2]).toMatch(/^1\/5 done \(1 ok\), 2 running, 2 to start — \d+ s$/);
    p.end('contoso', 'failed', 2500, 'the tenant refused the operator');
    p.start('tailspin');
    p.line('tailspin', 'x'.repeat(200));
    shown = screen(writes);
    // The failure stays above the block; a long line is cut to the terminal's width.
    expect(shown[0]).toBe('✗ contoso: failed in 3 s — the tenant refused the operator');
    expect(shown.slice(1).every((l) => l.length <= 59)).toBe(true);
    expect(shown.at(-1)).toMatch(/^2\/5 done \(1 ok, 1 failed\), 2 running, 1 to start/);
    expect(shown).toHaveLength(4);
    p.close();
  });

  it('without a terminal: plain lines, each with its tenant, no escape sequences', () => {
    const writes: string[] = [];
    const p = fleetProgress({ tty: false, total: 2, write: (s) => writes.push(s) });
    p.start('contoso');
    p.line('contoso', 'Applying to contoso:\n  + Client secret: created');
    p.end('contoso', 'waiting', 30_000, 'waiting for admin consent');
    p.close();
    expect(writes.join('')).toBe(
      '[contoso] started\n[contoso] Applying to contoso:\n[contoso]   + Client secret: created\n… [contoso]: waiting in 30 s — waiting for admin consent\n',
    );
  });
});
