/** Token service like login.microsoftonline.com. (Scaffold: being implemented.) */
import type { EmulatorContext } from '../context.js';
import type { HttpService } from '../http.js';

export function createTokenService(_ctx: EmulatorContext): HttpService {
  return {
    name: 'token',
    matches: () => false,
    handle: () => ({ status: 404 }),
    errorResponse: (_req, status) => ({ status }),
  };
}
