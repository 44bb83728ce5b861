export * from './cloud.js';
export * from './operator.js';
export * from './http.js';
export * from './cached-credential.js';
export * from './sign-in-error.js';
