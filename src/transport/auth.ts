/**
 * Client authentication material: private keys read from disk (decrypted with a passphrase from
 * KUBI_SSH_PASSPHRASE or an injected prompt, asked once per key file and cached for the run) and
 * the list of methods offered to a host (ssh-agent first when enabled, then each key file).
 */
import { promises as fs } from 'node:fs';
import ssh2 from 'ssh2';
import type { AgentAuthMethod, ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { KubiError } from '../errors.js';
import type { Redactor } from '../redact.js';
import type { ResolvedTarget } from './resolve.js';

export type PassphrasePrompt = (keyPath: string) => Promise<string | null | undefined>;

export interface KeyLoaderOptions {
  /** reads KUBI_SSH_PASSPHRASE */
  env: NodeJS.ProcessEnv;
  /** asked when the env passphrase is absent or wrong (the CLI asks on the terminal) */
  promptPassphrase?: PassphrasePrompt;
  redactor?: Redactor;
}

const MAX_PROMPTS = 3;

function keyError(keyPath: string, what: string, hint: string, cause?: unknown): KubiError {
  return new KubiError('ssh-key', `cannot use private key ${keyPath}: ${what}`, { hint, ...(cause ? { cause } : {}) });
}

function isEncryptedWithoutPassphrase(e: Error): boolean {
  return /encrypted/i.test(e.message) && /passphrase/i.test(e.message);
}

function parse(data: Buffer, passphrase?: string): ParsedKey | Error {
  const r = ssh2.utils.parseKey(data, passphrase);
  if (Array.isArray(r)) return (r[0] as ParsedKey | undefined) ?? new Error('no key found in file');
  return r;
}

/** Loads each key file once per run (a passphrase is asked at most once per file). */
export class KeyLoader {
  private readonly cache = new Map<string, Promise<ParsedKey | null>>();

  constructor(private readonly opts: KeyLoaderOptions) {}

  /** The parsed private key; null when the file does not exist and `required` is false. */
  load(keyPath: string, required: boolean): Promise<ParsedKey | null> {
    const cacheKey = `${required ? 'r' : 'o'}:${keyPath}`;
    let p = this.cache.get(cacheKey);
    if (!p) {
      p = this.read(keyPath, required);
      this.cache.set(cacheKey, p);
      p.catch(() => this.cache.delete(cacheKey));
    }
    return p;
  }

  private async read(keyPath: string, required: boolean): Promise<ParsedKey | null> {
    let data: Buffer;
    try {
      data = await fs.readFile(keyPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !required) return null;
      throw keyError(
        keyPath,
        code === 'ENOENT' ? 'the file does not exist' : (e as Error).message,
        'check ssh.privateKey in the inventory (or IdentityFile in ~/.ssh/config)',
        e,
      );
    }
    let parsed = parse(data);
    if (!(parsed instanceof Error)) return this.checkPrivate(keyPath, parsed);
    if (!isEncryptedWithoutPassphrase(parsed)) {
      throw keyError(keyPath, parsed.message.toLowerCase(), 'the file must hold an OpenSSH or PEM private key');
    }
    const envPass = this.opts.env.KUBI_SSH_PASSPHRASE;
    if (envPass) {
      this.opts.redactor?.add(envPass, 'ssh passphrase');
      parsed = parse(data, envPass);
      if (!(parsed instanceof Error)) return this.checkPrivate(keyPath, parsed);
      if (!this.opts.promptPassphrase) {
        throw keyError(keyPath, 'the passphrase in KUBI_SSH_PASSPHRASE does not decrypt it', 'set KUBI_SSH_PASSPHRASE to the passphrase of this key');
      }
    }
    if (!this.opts.promptPassphrase) {
      throw keyError(
        keyPath,
        'it is encrypted and no passphrase was given',
        'set KUBI_SSH_PASSPHRASE, run interactively to be asked, or load the key into ssh-agent and set ssh.agent: true',
      );
    }
    for (let i = 0; i < MAX_PROMPTS; i++) {
      const pass = await this.opts.promptPassphrase(keyPath);
      if (!pass) break;
      this.opts.redactor?.add(pass, 'ssh passphrase');
      parsed = parse(data, pass);
      if (!(parsed instanceof Error)) return this.checkPrivate(keyPath, parsed);
    }
    throw keyError(keyPath, 'the passphrase does not decrypt it', 'enter the passphrase of this key, or use ssh-agent');
  }

  private checkPrivate(keyPath: string, key: ParsedKey): ParsedKey {
    if (!key.isPrivateKey()) throw keyError(keyPath, 'it is a public key', 'name the private key file (without .pub)');
    return key;
  }
}

export interface AuthPlan {
  methods: (AgentAuthMethod | PublicKeyAuthMethod)[];
  /** what is offered, for error messages */
  offered: string[];
}

/** The methods to offer a host, in order: agent (when enabled), then every readable key file. */
export async function planAuth(t: ResolvedTarget, keys: KeyLoader): Promise<AuthPlan> {
  const methods: AuthPlan['methods'] = [];
  const offered: string[] = [];
  if (t.agentSocket) {
    methods.push({ type: 'agent', username: t.user, agent: t.agentSocket });
    offered.push('ssh-agent');
  }
  for (const file of t.identityFiles) {
    const key = await keys.load(file, t.explicitIdentity);
    if (!key) continue;
    methods.push({ type: 'publickey', username: t.user, key });
    offered.push(`key ${file}`);
  }
  if (methods.length === 0) {
    throw new KubiError('ssh-auth-failed', `no ssh key to offer ${t.name}: no agent and none of ${t.identityFiles.join(', ')} exists`, {
      host: t.name,
      hint: 'set ssh.privateKey in the inventory, or set ssh.agent: true with SSH_AUTH_SOCK pointing to a running ssh-agent',
    });
  }
  return { methods, offered };
}
