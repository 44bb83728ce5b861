/** Registers the provisioning flags of the shared option table on a command. */
import { Option, type Command } from 'commander';
import { OPTION_FLAGS, type OptionFlag } from '../config/flags.js';
import { CliError, ExitCode } from './exit-codes.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The flag's name: `--app-name <name>` → `--app-name`. */
const nameOf = (flag: string): string => /--[a-z0-9-]+/.exec(flag)![0];

/** The attribute commander gives a flag: `--app-name <name>` → `appName`. */
const attributeOf = (flag: string): string =>
  nameOf(flag)
    .slice(2)
    .replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * A parser for a flag that takes one value: given twice (`--tenant a --tenant b`) is bad input, not "the last wins".
 */
export function single(flag: string): (value: string, previous: unknown) => string {
  return (value, previous) => {
    if (previous !== undefined)
      throw new CliError(
        `${nameOf(flag)}: is given more than once ("${String(previous)}", then "${value}"); give it once`,
        ExitCode.badInput,
        { field: nameOf(flag) },
      );
    return value;
  };
}

export interface OptionSet {
  /** Only these keys of the option table (the rest are not options of this command). */
  only?: string[];
  /** Accepted but not shown in this command's help (verify: --app-id and --mailbox-access; --client-id and --rbac say it better). */
  hidden?: string[];
  /** The default shown in help where this command's differs from the table's (verify: `wait: '0'`). */
  defaultText?: Record<string, string>;
  /** The help text where this command's meaning is narrower than the table's. */
  describe?: Record<string, string>;
  /** Keys this command refuses, with the reason (recognised so that the reason can be given). */
  refused?: Record<string, string>;
}

function helpOf(spec: OptionFlag, set: OptionSet): string {
  const def = set.defaultText?.[spec.key] ?? spec.defaultText;
  return `${set.describe?.[spec.key] ?? spec.description}${def ? ` (default: ${def})` : ''} [${spec.env}]`;
}

export function addProvisionOptions(cmd: Command, set: OptionSet = {}): Command {
  cmd.addOption(
    new Option('-f, --file <file>', 'config file (YAML or JSON); flags > SENDASAPP_* environment > file').argParser(
      single('--file'),
    ),
  );
  const refused = Object.entries(set.refused ?? {});
  for (const spec of OPTION_FLAGS) {
    const isRefused = set.refused?.[spec.key] !== undefined;
    if (set.only && !set.only.includes(spec.key) && !isRefused) continue;
    const opt = new Option(spec.flag, helpOf(spec, set));
    if (spec.list) opt.argParser(collect);
    else if (!spec.boolean) opt.argParser(single(spec.flag));
    if (isRefused || set.hidden?.includes(spec.key)) opt.hideHelp();
    cmd.addOption(opt);
  }
  if (refused.length > 0)
    cmd.hook('preAction', (c) => {
      for (const [key, reason] of refused) {
        const spec = OPTION_FLAGS.find((s) => s.key === key)!;
        if (c.getOptionValue(attributeOf(spec.flag)) !== undefined)
          throw new CliError(`${nameOf(spec.flag)}: ${reason}`, ExitCode.badInput, { field: nameOf(spec.flag) });
      }
    });
  return cmd;
}
