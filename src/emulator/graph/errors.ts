/**
 * Graph's error answers: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`, with
 * `details[]` where the directory gives them, and the codes and messages the real service uses.
 */

export interface ErrorDetail {
  code: string;
  target?: string;
  message?: string;
}

/** A Graph error raised anywhere in a handler; the router turns it into the error body. */
export class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** What a Graph handler answers (the HTTP listener's EmulatorResponse, and a $batch item's response). */
export interface GraphResult {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The `date` of innerError, as Graph writes it (UTC, no fraction, no zone). */
export function errorDate(now: number = Date.now()): string {
  return new Date(now).toISOString().slice(0, 19);
}

export function errorBody(
  code: string,
  message: string,
  ids: { requestId: string; clientRequestId: string },
  details?: ErrorDetail[],
): { error: Record<string, unknown> } {
  return {
    error: {
      code,
      message,
      ...(details ? { details } : {}),
      innerError: { date: errorDate(), 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId },
    },
  };
}

export function errorResult(failure: GraphFailure, ids: { requestId: string; clientRequestId: string }): GraphResult {
  return {
    status: failure.status,
    headers: { 'Content-Type': 'application/json', ...(failure.headers ?? {}) },
    body: errorBody(failure.code, failure.message, ids, failure.details),
  };
}

// ---- the errors Graph answers, in one place ----

export function notFound(key: string): GraphFailure {
  return new GraphFailure(
    404,
    'Request_ResourceNotFound',
    `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

export function invalidObjectId(key: string): GraphFailure {
  return new GraphFailure(400, 'Request_BadRequest', `Invalid object identifier '${key}'.`);
}

export function denied(): GraphFailure {
  return new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}

export function segmentNotFound(segment: string): GraphFailure {
  return new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
}

export function methodNotAllowed(): GraphFailure {
  return new GraphFailure(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
}

export function badJson(): GraphFailure {
  return new GraphFailure(
    400,
    'BadRequest',
    'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
  );
}

export function emptyPayload(): GraphFailure {
  return new GraphFailure(400, 'BadRequest', 'Empty Payload. JSON content expected.');
}

export function querySyntax(): GraphFailure {
  return new GraphFailure(400, 'BadRequest', 'Bad Request - Error in query syntax.');
}
