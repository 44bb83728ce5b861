/**
 * The wizard's prompts: @inquirer/prompts on stderr, every answer validated by the same zod schema as the flag,
 * the environment variable and the config file key (an invalid answer is asked again, with the reason).
 */
import { confirm, input, select } from '@inquirer/prompts';
import { OPTION_SPECS } from '../../config/index.js';

const context = { output: process.stderr };

/** The reason an answer is not a valid value of option `key`, or true. */
export function validateOption(key: string, value: unknown): true | string {
  const spec = OPTION_SPECS.find((s) => s.key === key);
  if (!spec) throw new Error(`no option ${key}`);
  const r = spec.schema.safeParse(value);
  if (r.success) return true;
  const issue = r.error.issues[0]!;
  const item = spec.list && issue.path.length > 0 ? `${String(Number(issue.path[0]) + 1)}: ` : '';
  return `${item}${issue.message}`;
}

/** "a, b c" → ["a", "b", "c"] */
export function splitList(answer: string): string[] {
  return answer
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface AskText {
  message: string;
  /** The option whose schema checks the answer (a list option takes a comma-separated answer). */
  key?: string;
  default?: string;
  required?: boolean;
  /** More checks after the schema's. */
  check?: (answer: string) => true | string | Promise<true | string>;
}

export async function askText(q: AskText): Promise<string> {
  const list = q.key ? OPTION_SPECS.find((s) => s.key === q.key)?.list : false;
  return input(
    {
      message: q.message,
      default: q.default,
      required: q.required ?? true,
      validate: async (raw: string) => {
        const answer = raw.trim();
        if (!answer) return q.required === false ? true : 'an answer is needed';
        if (q.key) {
          const ok = validateOption(q.key, list ? splitList(answer) : answer);
          if (ok !== true) return ok;
        }
        return q.check ? await q.check(answer) : true;
      },
    },
    context,
  ).then((a) => a.trim());
}

export interface Choice<T extends string> {
  value: T;
  name: string;
  description?: string;
}

export async function askChoice<T extends string>(message: string, choices: Array<Choice<T>>, def?: T): Promise<T> {
  return select<T>({ message, choices, default: def, pageSize: 10 }, context);
}

/** A yes/no question; `signal` (Ctrl-C or SIGTERM of the run) ends it as a prompt exit. */
export async function askYesNo(message: string, def: boolean, signal?: AbortSignal): Promise<boolean> {
  return confirm({ message, default: def }, signal ? { ...context, signal } : context);
}

/** A question answered by a flag, the environment or the config file: shown as answered, not asked. */
export function answered(message: string, value: string, source: string): void {
  process.stderr.write(`✔ ${message} ${value} (${source})\n`);
}

/** Whether an error is a prompt closed by Ctrl-C (or the terminal going away). */
export function isPromptExit(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}
