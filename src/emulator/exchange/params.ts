/**
 * Cmdlet parameters as the admin API binds them: case-insensitive names, PowerShell's conversions of JSON values
 * (a number binds to a String, a Boolean parameter takes only Booleans and numbers, enum arrays take a name, a list
 * of names or a comma-separated string) and PowerShell's binding errors.
 */
import {
  EXCHANGE_ERROR_KINDS,
  ExchangeError,
  missingMandatory,
  nullArgument,
  transformation,
  unknownParameters,
} from './errors.js';

export interface EnumType {
  /** .NET type name used in the conversion error, e.g. `Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]`. */
  typeName: string;
  values: readonly string[];
}

export type ParamType =
  | { kind: 'string' }
  | { kind: 'bool' }
  /** Boolean that also takes $null (CASMailbox SmtpClientAuthenticationDisabled). */
  | { kind: 'nullableBool' }
  | { kind: 'switch' }
  | { kind: 'enumArray'; enum: EnumType }
  | { kind: 'enum'; enum: EnumType }
  /** `Unlimited` or a positive integer. */
  | { kind: 'resultSize' };

export interface ParamSpec {
  name: string;
  type: ParamType;
  required?: boolean;
  /** Other names that bind to this parameter (e.g. the deprecated -ServiceId for -ObjectId). */
  aliases?: string[];
}

export type ParamValue = string | boolean | null | string[] | number;

/** Bound parameters, by canonical name; absent parameters are absent (so Set- cmdlets can tell "not given" apart). */
export class BoundParameters {
  constructor(
    private readonly values: Map<string, ParamValue>,
    /** The name the caller used, by canonical name (for aliases and messages). */
    readonly usedNames: Map<string, string>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean | undefined {
    const v = this.values.get(name);
    return typeof v === 'boolean' ? v : undefined;
  }

  /** true/false, null when given as null, undefined when not given. */
  nullableBool(name: string): boolean | null | undefined {
    if (!this.values.has(name)) return undefined;
    const v = this.values.get(name);
    return typeof v === 'boolean' ? v : null;
  }

  list(name: string): string[] | undefined {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : undefined;
  }

  resultSize(name = 'ResultSize'): number | 'Unlimited' | undefined {
    const v = this.values.get(name);
    if (v === 'Unlimited' || typeof v === 'number') return v;
    return undefined;
  }
}

/** PowerShell's common parameters: accepted and ignored. */
const COMMON_PARAMETERS = [
  'ErrorAction',
  'WarningAction',
  'InformationAction',
  'ErrorVariable',
  'WarningVariable',
  'InformationVariable',
  'OutVariable',
  'OutBuffer',
  'PipelineVariable',
  'Verbose',
  'Debug',
  'ProgressAction',
];

function psTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'System.Object[]';
  switch (typeof value) {
    case 'string':
      return 'System.String';
    case 'number':
      return Number.isInteger(value) ? 'System.Int64' : 'System.Double';
    case 'boolean':
      return 'System.Boolean';
    default:
      return 'System.Collections.Hashtable';
  }
}

function convertBoolean(spec: ParamSpec, value: unknown, allowNull: boolean): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value !== 0;
  if (value === null && allowNull) return null;
  const shown = value === null ? '' : psTypeName(value);
  throw transformation(
    spec.name,
    `Cannot convert value "${shown}" to type "System.Boolean". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.`,
  );
}

function convertSwitch(spec: ParamSpec, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value !== 0;
  throw transformation(
    spec.name,
    `Cannot convert value "${value === null ? '' : psTypeName(value)}" to type "System.Management.Automation.SwitchParameter". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.`,
  );
}

function convertString(spec: ParamSpec, value: unknown): string | null {
  if (value === null) {
    if (spec.required) throw nullArgument(spec.name, false);
    return null;
  }
  if (typeof value === 'string') {
    if (value === '' && spec.required) throw nullArgument(spec.name, true);
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  throw transformation(
    spec.name,
    `Cannot convert '${psTypeName(value)}' to the type 'System.String' required by parameter '${spec.name}'. Specified method is not supported.`,
  );
}

function enumError(spec: ParamSpec, e: EnumType, raw: unknown, bad: string): ExchangeError {
  const shown = typeof raw === 'string' ? raw : Array.isArray(raw) ? 'System.Object[]' : psTypeName(raw);
  return transformation(
    spec.name,
    `Cannot convert value "${shown}" to type "${e.typeName}". Error: "Unable to match the identifier name ${bad} to a valid enumerator name. Specify one of the following enumerator names and try again: ${e.values.join(', ')}"`,
  );
}

function convertEnumArray(spec: ParamSpec, e: EnumType, value: unknown): string[] {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw enumError(spec, e, value, item === null ? '' : psTypeName(item));
    for (const part of item.split(',')) {
      const name = part.trim();
      const canonical = e.values.find((v) => v.toLowerCase() === name.toLowerCase());
      if (!canonical) throw enumError(spec, e, value, name);
      if (!out.includes(canonical)) out.push(canonical);
    }
  }
  if (out.length === 0) throw enumError(spec, e, value, '');
  return out;
}

function convertResultSize(spec: ParamSpec, value: unknown): number | 'Unlimited' {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'unlimited') return 'Unlimited';
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(n) && n > 0 && n <= 0xffffffff) return n;
  throw transformation(
    spec.name,
    `Cannot convert value "${typeof value === 'string' ? value : psTypeName(value)}" to type "Microsoft.Exchange.Data.Unlimited\`1[System.UInt32]". Error: "The value must be a positive integer or Unlimited."`,
  );
}

/**
 * Binds JSON parameters to a cmdlet's parameter list, in PowerShell's order: unknown names first (the call can't be
 * resolved at all), then conversions, then missing mandatory parameters.
 */
export function bindParameters(specs: readonly ParamSpec[], input: Record<string, unknown>): BoundParameters {
  const byName = new Map<string, ParamSpec>();
  for (const spec of specs) {
    byName.set(spec.name.toLowerCase(), spec);
    for (const a of spec.aliases ?? []) byName.set(a.toLowerCase(), spec);
  }
  const common = new Set(COMMON_PARAMETERS.map((c) => c.toLowerCase()));
  const unknown = Object.keys(input).filter((k) => !byName.has(k.toLowerCase()) && !common.has(k.toLowerCase()));
  if (unknown.length > 0) throw unknownParameters(unknown);

  const values = new Map<string, ParamValue>();
  const usedNames = new Map<string, string>();
  for (const [key, raw] of Object.entries(input)) {
    const spec = byName.get(key.toLowerCase());
    if (!spec) continue;
    if (values.has(spec.name)) {
      // Both a parameter and its alias: PowerShell refuses to bind a parameter twice.
      throw new ExchangeError(
        EXCHANGE_ERROR_KINDS.parameterBinding,
        `Cannot bind parameter because parameter '${spec.name}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax.`,
      );
    }
    let v: ParamValue;
    switch (spec.type.kind) {
      case 'string':
        v = convertString(spec, raw);
        break;
      case 'bool':
        v = convertBoolean(spec, raw, false);
        break;
      case 'nullableBool':
        v = convertBoolean(spec, raw, true);
        break;
      case 'switch':
        v = convertSwitch(spec, raw);
        break;
      case 'enumArray':
        v = convertEnumArray(spec, spec.type.enum, raw);
        break;
      case 'enum': {
        const list = convertEnumArray(spec, spec.type.enum, raw);
        if (list.length !== 1) throw enumError(spec, spec.type.enum, raw, String(raw));
        v = list[0]!;
        break;
      }
      case 'resultSize':
        v = convertResultSize(spec, raw);
        break;
    }
    values.set(spec.name, v);
    usedNames.set(spec.name, key);
  }
  const missing = specs.filter((s) => s.required && !values.has(s.name)).map((s) => s.name);
  if (missing.length > 0) throw missingMandatory(missing);
  return new BoundParameters(values, usedNames);
}

// ---- parameter shorthands ----

export const str = (name: string, required = false, aliases?: string[]): ParamSpec => ({
  name,
  type: { kind: 'string' },
  required,
  ...(aliases ? { aliases } : {}),
});
export const bool = (name: string): ParamSpec => ({ name, type: { kind: 'bool' } });
export const nullableBool = (name: string): ParamSpec => ({ name, type: { kind: 'nullableBool' } });
export const sw = (name: string): ParamSpec => ({ name, type: { kind: 'switch' } });
export const enumArray = (name: string, e: EnumType, required = false): ParamSpec => ({
  name,
  type: { kind: 'enumArray', enum: e },
  required,
});
export const enumOne = (name: string, e: EnumType): ParamSpec => ({ name, type: { kind: 'enum', enum: e } });
export const resultSize = (): ParamSpec => ({ name: 'ResultSize', type: { kind: 'resultSize' } });
/** -Confirm and -WhatIf, which every writing cmdlet has. */
export const confirmAndWhatIf = (): ParamSpec[] => [sw('Confirm'), sw('WhatIf')];
