/** Exchange Online admin API (InvokeCommand). (Scaffold: being implemented.) */
import type { EmulatorContext } from '../context.js';
import type { HttpService } from '../http.js';

export function createExchangeService(_ctx: EmulatorContext): HttpService {
  return {
    name: 'exchange',
    matches: () => false,
    handle: () => ({ status: 404 }),
    errorResponse: (_req, status) => ({ status }),
  };
}
