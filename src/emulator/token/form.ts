/**
 * The token endpoint's request: an `application/x-www-form-urlencoded` body, and the client credentials that may
 * instead travel in HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1: both halves form-urlencoded).
 */
import type { EmulatorRequest } from '../http.js';

export interface TokenRequest {
  form: URLSearchParams;
  clientId: string | undefined;
  clientSecret: string | undefined;
}

function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export function parseTokenRequest(req: EmulatorRequest): TokenRequest {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  // Entra reads the body only as a form; anything else (JSON, say) has none of the parameters.
  const form =
    type.startsWith('application/x-www-form-urlencoded') || type === ''
      ? new URLSearchParams(req.body.toString('utf8'))
      : new URLSearchParams();
  let clientId = form.get('client_id')?.trim() || undefined;
  let clientSecret = form.get('client_secret') ?? undefined;
  const basic = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? '').trim());
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      clientId ??= formDecode(decoded.slice(0, colon)).trim() || undefined;
      clientSecret ??= formDecode(decoded.slice(colon + 1));
    }
  }
  return { form, clientId, clientSecret: clientSecret === '' ? undefined : clientSecret };
}
