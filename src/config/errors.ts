/** Bad input: names the field (flag, variable or file key) and the allowed form. Exit code 2, no tenant call. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}
