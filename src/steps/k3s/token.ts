/**
 * The cluster join token: `k3s.token` (a local step) generates it ONCE (32 random bytes, hex: the
 * short "password-only" format k3s accepts for the first server) into `<stateDir>/k3s-token`
 * (0600, written atomically), and `loadK3sToken(cluster)` reads it for the host steps. The token
 * is registered with the redactor the moment it is loaded or generated, so it can never reach a
 * log, a plan or the terminal; it is never put on a command line (k3s reads it from token-file).
 */
import { randomBytes } from 'node:crypto';
import { KubiError } from '../../errors.js';
import { writeFileAtomic } from '../../fs-atomic.js';
import { insideStateDir } from '../../engine/apply-local.js';
import type { Change, ClusterContext, LocalStep } from '../../engine/types.js';
import { redactor } from '../../redact.js';
import { readStateFile } from './state-dir.js';

export const TOKEN_FILE = 'k3s-token';
export const TOKEN_MODE = 0o600;
export const TOKEN_LABEL = 'k3s-token';

/** A fresh token: 64 hex characters. */
export function generateToken(): string {
  return randomBytes(32).toString('hex');
}

/** Pure: the token text of the file, or an error for a file that cannot be a token. */
export function parseTokenFile(content: string, file: string): string {
  const token = content.trim();
  if (token === '' || /\s/.test(token)) {
    throw new KubiError('k3s-token-invalid', `the cluster token file ${file} is empty or has more than one word`, {
      hint: 'restore it from a backup, or copy /etc/rancher/k3s/token from any running server into it (mode 0600)',
    });
  }
  return token;
}

export interface TokenState {
  token: string | null;
  mode: number | null;
}

/** Read the token (null when it does not exist yet) and register it with the redactor. */
export async function readToken(stateDir: string): Promise<TokenState> {
  const f = await readStateFile(stateDir, TOKEN_FILE);
  if (!f) return { token: null, mode: null };
  const token = parseTokenFile(f.content, insideStateDir(stateDir, TOKEN_FILE));
  redactor.add(token, TOKEN_LABEL);
  return { token, mode: f.mode };
}

const memo = new WeakMap<ClusterContext, Promise<string | null>>();

/**
 * The token of this run for the host steps: the state directory's (null in plan mode before it
 * was generated; apply mode after `k3s.token` always has one). Memoized per run once found.
 */
export function loadK3sToken(cluster: ClusterContext): Promise<string | null> {
  let p = memo.get(cluster);
  if (!p) {
    p = readToken(cluster.stateDir).then((s) => s.token);
    memo.set(cluster, p);
    // a missing token may appear later in the run (k3s.token): read again next time
    p.then(
      (t) => {
        if (t === null) memo.delete(cluster);
      },
      () => memo.delete(cluster),
    );
  }
  return p;
}

/** Pure plan of k3s.token. */
export function planToken(state: TokenState): Change[] {
  if (state.token === null) {
    return [{ kind: 'action', title: `generate the cluster join token into ${TOKEN_FILE} (0600)`, detail: ['32 random bytes, hex; never shown, never logged'] }];
  }
  if (state.mode !== TOKEN_MODE) return [{ kind: 'action', title: `set the mode of ${TOKEN_FILE} to 0600` }];
  return [];
}

export const k3sToken: LocalStep<TokenState> = {
  id: 'k3s.token',
  title: 'Generate the cluster join token once, in the state directory',
  local: true,
  check(ctx) {
    return readToken(ctx.cluster.stateDir);
  },
  plan(state) {
    return planToken(state);
  },
  async apply(_changes, ctx) {
    const file = insideStateDir(ctx.cluster.stateDir, TOKEN_FILE);
    const current = await readToken(ctx.cluster.stateDir);
    // never replace an existing token: only its mode is fixed
    const token = current.token ?? generateToken();
    redactor.add(token, TOKEN_LABEL);
    await writeFileAtomic(file, `${token}\n`, TOKEN_MODE);
    memo.delete(ctx.cluster);
    ctx.report(current.token === null ? `generated the cluster token (${TOKEN_FILE}, 0600)` : `${TOKEN_FILE} set to 0600`);
  },
};
