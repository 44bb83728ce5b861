/** Microsoft Graph v1.0. (Scaffold: being implemented.) */
import type { EmulatorContext } from '../context.js';
import type { HttpService } from '../http.js';

export function createGraphService(_ctx: EmulatorContext): HttpService {
  return {
    name: 'graph',
    matches: () => false,
    handle: () => ({ status: 404 }),
    errorResponse: (_req, status) => ({ status }),
  };
}
