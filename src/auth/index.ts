export * from './cloud.js';
export * from './network.js';
export * from './operator.js';
export * from './token-service.js';
export * from './app-credential.js';
export * from './http.js';
export * from './cached-credential.js';
export * from './sign-in-error.js';
