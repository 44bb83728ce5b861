export * from './context.js';
export * from './errors.js';
export * from './prepare.js';
export * from './provision.js';
export * from './resource.js';
export * from './runner.js';
export * from './verify.js';
export { delegatedConsentUrl, DELEGATED_SMTP_SCOPES } from './resources/delegated.js';
export { adminConsentUrl } from '../entra/index.js';

/** PEM handling of app credentials, for the commands that read a certificate file themselves. */
export { splitKeyAndCertificate } from '../entra/index.js';
