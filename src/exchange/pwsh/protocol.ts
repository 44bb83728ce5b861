/**
 * The JSON-lines protocol between PwshExchangeBackend and templates/exchange/bridge.ps1, one object per line in each
 * direction, ASCII only (non-ASCII is \u-escaped both ways, so no console code page can garble a line).
 *
 * bridge → stdout, before reading anything:
 *   {id:null, ok:true, type:'hello', protocol, psVersion, psEdition, os, modules:[{version, path, needsPwsh}]}
 * stdin → bridge:
 *   1st line  {id, type:'connect', connect:{Connect-ExchangeOnline parameters}, commandName:[…]}
 *   then      {id, cmdlet, parameters}            a whitelisted cmdlet, its parameters splatted as data
 *             {id, type:'connect', connect:{…}}   a fresh token for the same session (-AccessToken expires)
 *             {id, type:'many', calls:[{cmdlet, parameters}, …]}   independent reads, run in order, answered together
 *   EOF       Disconnect-ExchangeOnline, exit 0
 * bridge → stdout: one answer per line, same id:
 *   {id, ok:true, value:[…], warnings?:[…], psVersion?, moduleVersion?, importMs?, connectMs?}
 *   {id, ok:false, error:{category, message, errorId, target, reason?, exceptionType?}, fatal?:true}
 *   {id, ok:true, results:[{ok, value?, warnings?, error?}, …]}   one per call of a 'many', in order
 * Any other stdout line (a host message such as the device-code prompt) is not part of the protocol.
 */

export const PROTOCOL_VERSION = 1;

/** Connect-ExchangeOnline parameters the bridge accepts (it refuses any other name). */
export interface ConnectParameters {
  AccessToken?: string;
  Organization?: string;
  DelegatedOrganization?: string;
  UserPrincipalName?: string;
  AppId?: string;
  CertificateFilePath?: string;
  /** Turned into a SecureString inside the bridge. */
  CertificatePassword?: string;
  ManagedIdentity?: boolean;
  ManagedIdentityAccountId?: string;
  Device?: boolean;
  ExchangeEnvironmentName?: string;
  ConnectionUri?: string;
  AzureADAuthorizationEndpointUri?: string;
}

export type ConnectMode = 'AccessToken' | 'Certificate' | 'ManagedIdentity' | 'Device';

export interface ConnectMessage {
  id: number;
  type: 'connect';
  protocol: number;
  mode: ConnectMode;
  connect: ConnectParameters;
  commandName: string[];
}

export interface RequestMessage {
  id: number;
  cmdlet: string;
  parameters: Record<string, unknown>;
}

export interface BridgeErrorInfo {
  /** PowerShell's ErrorCategory, e.g. ObjectNotFound. */
  category?: string;
  message?: string;
  /** FullyQualifiedErrorId. */
  errorId?: string;
  target?: string;
  /** CategoryInfo.Reason (the exception's short type name). */
  reason?: string;
  exceptionType?: string;
}

/** One call of a 'many' message, as answered. */
export interface CallResult {
  ok: boolean;
  value?: unknown;
  warnings?: string[];
  error?: BridgeErrorInfo;
}

export interface ManyMessage {
  id: number;
  type: 'many';
  calls: RequestMessage[] | Array<Omit<RequestMessage, 'id'>>;
}

export interface HelloMessage {
  id: null;
  ok: true;
  type: 'hello';
  protocol?: number;
  psVersion?: string;
  psEdition?: string;
  os?: string;
  modules?: Array<{ version?: string; path?: string }>;
}

export interface ResponseMessage {
  id: number | null;
  ok: boolean;
  type?: string;
  results?: CallResult[];
  value?: unknown;
  warnings?: string[];
  error?: BridgeErrorInfo;
  /** The bridge gives up (module missing, connect failed) and exits. */
  fatal?: boolean;
  stage?: string;
  psVersion?: string;
  moduleVersion?: string;
  importMs?: number;
  connectMs?: number;
}

/** One protocol line: JSON with every non-ASCII character escaped, and a newline. */
export function encodeLine(message: unknown): string {
  return (
    JSON.stringify(message).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) +
    '\n'
  );
}

/** A protocol answer, or undefined for a line that is not one (host output, noise). */
export function parseLine(line: string): ResponseMessage | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const m = data as Record<string, unknown>;
  if (!('id' in m) || typeof m.ok !== 'boolean') return undefined;
  if (m.id !== null && typeof m.id !== 'number') return undefined;
  return m as unknown as ResponseMessage;
}
