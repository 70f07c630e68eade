/**
 * Secrets (cluster token, private keys, sudo password) must never reach logs, terminal output or
 * plan output. Every place that writes text a user or a log can see passes it through a Redactor.
 * Registered secrets are replaced by `<redacted:label>`; PEM private key blocks are always masked.
 */

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;

export class Redactor {
  private readonly secrets = new Map<string, string>();

  /** Register a secret value (ignored when shorter than 6 characters: too likely to hit plain text). */
  add(value: string | undefined | null, label = 'secret'): void {
    if (!value || value.length < 6) return;
    this.secrets.set(value, label);
    const trimmed = value.trim();
    if (trimmed !== value && trimmed.length >= 6) this.secrets.set(trimmed, label);
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    let out = text.replace(PEM_PRIVATE_KEY, (_m, kind: string) => `<redacted:${kind.toLowerCase()}private key>`);
    // longest first, so a secret that contains another is replaced whole
    const values = [...this.secrets.keys()].sort((a, b) => b.length - a.length);
    for (const v of values) {
      if (out.includes(v)) out = out.split(v).join(`<redacted:${this.secrets.get(v)}>`);
    }
    return out;
  }
}

/** The process-wide redactor: the CLI registers secrets as soon as it loads them. */
export const redactor = new Redactor();
