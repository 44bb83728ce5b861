/** Registers the provisioning flags of the shared option table on a command. */
import { Option, type Command } from 'commander';
import { OPTION_FLAGS } from '../config/flags.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addProvisionOptions(cmd: Command, only?: string[]): Command {
  cmd.option('-f, --file <file>', 'config file (YAML or JSON); flags > SENDASAPP_* environment > file');
  for (const spec of OPTION_FLAGS) {
    if (only && !only.includes(spec.key)) continue;
    const help = `${spec.description}${spec.defaultText ? ` (default: ${spec.defaultText})` : ''} [${spec.env}]`;
    const opt = new Option(spec.flag, help);
    if (spec.list) opt.argParser(collect);
    cmd.addOption(opt);
  }
  return cmd;
}
