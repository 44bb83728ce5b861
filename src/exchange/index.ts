export * from './backend.js';
export * from './rest.js';
export * from './batching.js';
export * from './resources.js';
export {
  chooseExchangeBackend,
  createPwshExchangeFactory,
  EXCHANGE_BACKEND_CHOICES,
  probePwsh,
  pwshMightRun,
  PwshExchangeBackend,
  PWSH_CMDLETS,
  type ExchangeBackendChoice,
  type ExchangeBackendRequest,
  type PwshBackendOptions,
  type PwshConnect,
  type PwshProbe,
  type PwshStats,
} from './pwsh/index.js';
export { ChosenExchangeBackend } from './chosen.js';

export * from './send-as-users.js';
