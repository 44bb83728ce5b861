/**
 * The token service, bounded. @azure/identity sends its requests (metadata, token) through an
 * @azure/core-rest-pipeline pipeline that MSAL drives; MSAL neither passes `getToken`'s abortSignal to them nor
 * keeps our errors (it turns any thrown network error into "network_error"). So the bounds live in two places:
 *
 * - a pipeline policy (client option `additionalPolicies`, the SDK's own retries switched off with
 *   `retryOptions.maxRetries: 0`) gives each request the response timeout, retries resets and 429/5xx answers
 *   through the poller (Retry-After honoured) within the retry deadline, and reports each request;
 * - a thin TokenCredential around the credential ends `getToken` when the caller's signal aborts, and puts back
 *   the policy's sentence ("the token service at https://… did not answer … within 60 s; … --timeout") where
 *   MSAL would only say "network_error".
 *
 * A 4xx answer (AADSTS…: wrong secret, no consent, unknown tenant) goes back to MSAL unchanged and is never retried.
 */
import type { AccessToken, GetTokenOptions, TokenCredential, TokenCredentialOptions } from '@azure/identity';
import { parseRetryAfter, retry, untilAborted } from '../poll/index.js';
import {
  DEFAULT_TIMEOUT_MS,
  ServiceUnreachableError,
  isTransientStatus,
  logTarget,
  networkCode,
  retryOptions,
  type NetworkBounds,
} from './network.js';

type AdditionalPolicy = NonNullable<TokenCredentialOptions['additionalPolicies']>[number];
type PipelinePolicy = AdditionalPolicy['policy'];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

/** The last network failure the policy saw, shared with the credential wrapper of the same sign-in. */
interface FailureBox {
  count: number;
  last?: ServiceUnreachableError;
}

/** A 429/5xx answer, carried through the poller so that the last one can be handed back to MSAL as it came. */
class TransientAnswer extends Error {
  constructor(readonly response: PipelineResponse) {
    super(`answered ${response.status}`);
  }
}

/** A connection failure before any answer (reset, refused). */
class ConnectionFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function tokenServicePolicy(b: NetworkBounds, box: FailureBox): PipelinePolicy {
  const timeoutMs = b.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fail = (e: ServiceUnreachableError): ServiceUnreachableError => {
    box.count += 1;
    box.last = e;
    return e;
  };
  return {
    name: 'sendasappTokenService',
    async sendRequest(request, next) {
      const url = new URL(request.url);
      const what = `${request.method} ${url.pathname}`;
      const target = logTarget(request.url);
      const own = request.abortSignal;
      try {
        return await retry(
          async () => {
            request.timeout = timeoutMs;
            if (b.signal)
              request.abortSignal = own instanceof AbortSignal ? AbortSignal.any([own, b.signal]) : b.signal;
            const started = performance.now();
            const report = (status: number | string): void =>
              b.onRequest?.({
                service: 'token',
                method: request.method,
                target,
                status,
                ms: Math.round(performance.now() - started),
              });
            let res: PipelineResponse;
            try {
              res = await next(request);
            } catch (err) {
              if (b.signal?.aborted) throw b.signal.reason;
              const code = networkCode(err);
              if ((err as Error)?.name === 'AbortError' && !own?.aborted) {
                report('timeout');
                throw fail(new ServiceUnreachableError('token', url.origin, 'timeout', what, timeoutMs));
              }
              report(code ?? 'error');
              if (code) throw new ConnectionFailure(code);
              throw err;
            }
            report(res.status);
            if (isTransientStatus(res.status)) throw new TransientAnswer(res);
            return res;
          },
          (err) => {
            if (err instanceof TransientAnswer)
              return { retryAfterMs: parseRetryAfter(err.response.headers.get('retry-after')) };
            return err instanceof ConnectionFailure;
          },
          retryOptions(`${what} at ${url.origin}`, b),
        );
      } catch (err) {
        // Retries used up: the last answer goes to MSAL (which explains it); a connection failure is ours to word.
        if (err instanceof TransientAnswer) return err.response;
        if (err instanceof ConnectionFailure)
          throw fail(new ServiceUnreachableError('token', url.origin, 'network', what, timeoutMs, err.code));
        throw err;
      }
    },
  };
}

const AADSTS = /AADSTS\d+/;

class BoundedCredential implements TokenCredential {
  constructor(
    private readonly inner: TokenCredential,
    private readonly box: FailureBox,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const before = this.box.count;
    const signals = [options?.abortSignal, this.signal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let token: AccessToken | null;
    try {
      token = await untilAborted(this.inner.getToken(scopes, options), signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // MSAL reports our timeout or connection failure as "network_error": say what really happened.
      if (this.box.count > before && this.box.last && !AADSTS.test((err as Error)?.message ?? '')) throw this.box.last;
      throw err;
    }
    if (!token) throw new Error('the credential returned no token');
    return token;
  }
}

/**
 * The pieces that bound one sign-in: `options` to spread into an @azure/identity credential's client options,
 * and `wrap` for the credential made with them.
 */
export function tokenServiceBounds(b: NetworkBounds = {}): {
  options: Pick<TokenCredentialOptions, 'retryOptions' | 'additionalPolicies'>;
  wrap: (credential: TokenCredential) => TokenCredential;
} {
  const box: FailureBox = { count: 0 };
  return {
    options: {
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ policy: tokenServicePolicy(b, box), position: 'perCall' }],
    },
    wrap: (credential) => new BoundedCredential(credential, box, b.signal),
  };
}
