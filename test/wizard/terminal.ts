/**
 * Test helper: runs the built CLI in a real pseudo-terminal, as a person at a terminal would, and types into it.
 *
 * The terminal comes from util-linux `script` (package bsdutils, "Essential: yes" on Debian, so present on every
 * Debian machine and CI image without an install step, and no native Node module): `script -qfec CMD /dev/null`
 * gives CMD a pty as stdin, stdout and stderr. Keys written here reach the pty master, so the line discipline acts
 * as for a person: Ctrl-C (0x03) is a keypress for @inquirer/prompts while a prompt holds the terminal in raw mode,
 * and a SIGINT to the process group otherwise (during apply).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { CLI_PATH } from '../helpers/cli.js';

export const KEY = {
  enter: '\r',
  down: '\x1b[B',
  up: '\x1b[A',
  ctrlC: '\x03',
  backspace: '\x7f',
} as const;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface Terminal {
  /** Everything shown so far, without colours and cursor movements. */
  screen(): string;
  /** Waits until `pattern` shows up after what earlier waits consumed; returns the match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  type(text: string): void;
  /** Types an answer and Enter. */
  answer(text: string): void;
  press(key: keyof typeof KEY): void;
  /** Resolves with the exit code when the program ends. */
  exited: Promise<number | null>;
  kill(): void;
}

export function runInTerminal(args: string[], env: Record<string, string> = {}, cwd?: string): Terminal {
  const childEnv: Record<string, string | undefined> = { ...process.env, TERM: 'xterm-256color', ...env };
  for (const k of Object.keys(childEnv)) if (/^(AZURE_|SENDASAPP_)/.test(k) && !(k in env)) delete childEnv[k];
  const command = `stty cols 120 rows 50; exec ${[process.execPath, CLI_PATH, ...args].map(shellQuote).join(' ')}`;
  const child: ChildProcessWithoutNullStreams = spawn('script', ['-qfec', command, '/dev/null'], {
    env: childEnv as NodeJS.ProcessEnv,
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  let consumed = 0;
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    raw += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const screen = (): string => stripVTControlCharacters(raw).replace(/\r/g, '');
  return {
    screen,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const text = screen();
          const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
          const m = re.exec(text.slice(consumed));
          if (!m) return false;
          consumed += m.index + m[0].length;
          resolve(m);
          return true;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`timed out waiting for ${pattern}; the screen ends with:\n${screen().slice(-3000)}`));
        }, timeoutMs);
        const listener = (): void => {
          if (check()) {
            clearTimeout(timer);
            listeners.delete(listener);
          }
        };
        listeners.add(listener);
        void exited.then(() => {
          if (listeners.has(listener)) {
            clearTimeout(timer);
            listeners.delete(listener);
            if (!check())
              reject(new Error(`the program ended before ${pattern}; the screen ends with:\n${screen().slice(-3000)}`));
          }
        });
      });
    },
    type(text) {
      child.stdin.write(text);
    },
    answer(text) {
      child.stdin.write(text + KEY.enter);
    },
    press(key) {
      child.stdin.write(KEY[key]);
    },
    exited,
    kill() {
      child.kill('SIGKILL');
    },
  };
}
