/**
 * Keeps secrets out of what pwsh prints: every line the backend passes on (stderr, host output, error messages)
 * goes through here. Known secrets (the access token, a certificate password) are replaced, and so is anything
 * shaped like a JWT.
 */
const JWT = /eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g;

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out.replace(JWT, '***');
  }
}
