/** The operator's sign-in failed (not the network): never retried, explained from its AADSTS code. */
export function isSignInError(err: unknown): boolean {
  const e = err as { name?: string; message?: string } | undefined;
  return (
    e?.name === 'AuthenticationError' ||
    e?.name === 'CredentialUnavailableError' ||
    e?.name === 'AuthenticationRequiredError' ||
    e?.name === 'TenantAccessError' ||
    /AADSTS\d+/.test(e?.message ?? '')
  );
}
