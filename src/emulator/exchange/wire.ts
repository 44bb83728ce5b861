/** How the admin API's answers look on the wire: the OData JSON content type, and Exchange's error envelope. */
import type { EmulatorResponse } from '../http.js';
import { ExchangeError, errorBody, type ExchangeErrorKind } from './errors.js';

export const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function respond(status: number, body: unknown, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, body, headers: { 'Content-Type': JSON_TYPE, ...headers } };
}

export function errorResponse(e: ExchangeError, warnings: string[] = []): EmulatorResponse {
  return respond(e.kind.status, errorBody(e, warnings), e.headers);
}

/** An error without `details` (the shape of errors raised before a cmdlet runs). */
export function simpleError(kind: ExchangeErrorKind, text: string): EmulatorResponse {
  return errorResponse(new ExchangeError(kind, text, { withDetails: false }));
}
