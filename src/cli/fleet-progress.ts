/**
 * A fleet's progress on stderr. On a terminal: a block that is redrawn in place — one line per running tenant
 * (its name, time so far and latest step) and a line of counts with the elapsed time; a tenant that did not end
 * well leaves one line above the block. Without a terminal (CI logs, pipes): plain lines, each prefixed with the
 * tenant's name. (A small renderer of its own rather than listr2: the fleet runner owns concurrency, --fail-fast and
 * signals; all that is needed is to redraw a few lines, with no dependency in the start-up path.)
 */
import { formatDuration } from '../poll/index.js';

export interface FleetProgress {
  start(name: string): void;
  line(name: string, text: string): void;
  end(name: string, outcome: string, ms: number, message?: string): void;
  /** Outside the live block (a sign-in prompt, a warning). */
  note(text: string): void;
  close(): void;
}

export interface FleetProgressOptions {
  tty: boolean;
  total: number;
  write: (s: string) => void;
  columns?: () => number;
  /** Redraws per second on a terminal. */
  fps?: number;
}

const MARK: Record<string, string> = {
  ok: '✓',
  'changes-pending': '~',
  waiting: '…',
  'proof-not-passed': '…',
  interrupted: '!',
  'not-started': '-',
};

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Elapsed time as a clock reads it: whole seconds, then minutes. */
const clock = (ms: number): string => (ms < 120_000 ? `${Math.floor(ms / 1000)} s` : formatDuration(ms));

export function fleetProgress(o: FleetProgressOptions): FleetProgress {
  const started = performance.now();
  const running = new Map<string, { since: number; last: string }>();
  const counts: Record<string, number> = {};
  let done = 0;
  const endLine = (name: string, outcome: string, ms: number, message?: string): string =>
    `${MARK[outcome] ?? '✗'} ${name}: ${outcome} in ${formatDuration(Math.round(ms))}${message ? ` — ${message}` : ''}`;

  if (!o.tty) {
    return {
      start: (name) => o.write(`[${name}] started\n`),
      line: (name, text) => {
        for (const l of text.split('\n')) if (l.trim()) o.write(`[${name}] ${l}\n`);
      },
      end: (name, outcome, ms, message) => o.write(`${endLine(`[${name}]`, outcome, ms, message)}\n`),
      note: (text) => o.write(`${text}\n`),
      close: () => undefined,
    };
  }

  let painted = 0;
  let closed = false;
  const width = (): number => Math.max(20, (o.columns?.() || 100) - 1);
  const fit = (s: string): string => {
    const t = s.replace(CONTROL, ' ');
    return t.length > width() ? `${t.slice(0, width() - 1)}…` : t;
  };
  const clear = (): string => (painted > 0 ? `\x1b[${painted}F\x1b[0J` : '');
  const block = (): string[] => {
    const now = performance.now();
    const lines = [...running].map(([name, r]) => `  ${name}  ${clock(now - r.since)}  ${r.last.trim()}`);
    const tally = Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    lines.push(
      `${done}/${o.total} done${tally ? ` (${tally})` : ''}, ${running.size} running, ${o.total - done - running.size} to start — ${clock(now - started)}`,
    );
    return lines.map(fit);
  };
  const paint = (above: string[] = []): void => {
    const lines = block();
    o.write(`${clear()}${above.map((l) => `${l}\n`).join('')}${lines.map((l) => `${l}\n`).join('')}`);
    painted = lines.length;
  };
  o.write('\x1b[?25l');
  const timer = setInterval(() => paint(), 1000 / (o.fps ?? 4));
  timer.unref();
  return {
    start(name) {
      running.set(name, { since: performance.now(), last: 'starting' });
      paint();
    },
    line(name, text) {
      const r = running.get(name);
      const last = text
        .split('\n')
        .filter((l) => l.trim())
        .at(-1);
      if (r && last) r.last = last;
    },
    end(name, outcome, ms, message) {
      running.delete(name);
      done++;
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      paint(outcome === 'ok' ? [] : [endLine(name, outcome, ms, message)]);
    },
    note(text) {
      paint([text]);
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      paint();
      o.write('\x1b[?25h');
    },
  };
}
