export * from './backend.js';
export * from './rest.js';
export * from './batching.js';
export * from './resources.js';
export {
  createPwshExchangeFactory,
  probePwsh,
  PwshExchangeBackend,
  PWSH_CMDLETS,
  type PwshBackendOptions,
  type PwshConnect,
  type PwshProbe,
  type PwshStats,
} from './pwsh/index.js';
