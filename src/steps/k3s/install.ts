/**
 * `k3s.install`: the k3s binary (uploaded only when the host's sha256 differs), the join token
 * in /etc/rancher/k3s/token (0600, secret: compared by sha256, never read back or shown) and, on
 * servers, the datastore client certificate for the external etcd. A host that already holds a
 * DIFFERENT token is refused: k3s's bootstrap data in etcd is encrypted with the first token, so
 * a new one would lock the server out (the state directory was probably lost).
 */
import { KubiError } from '../../errors.js';
import type { Change, Step } from '../../engine/types.js';
import { K3S_PATHS } from '../../render/cluster.js';
import { observeFiles, planDirs, planFiles, sha256, type Observation } from '../lib/index.js';
import { K3S_BINARY_PATH } from './artifact.js';
import { k3sInstallDesired, type K3sInstallDesired } from './desired.js';
import { TOKEN_FILE } from './token.js';

/** Pure plan of k3s.install. */
export function planK3sInstall(d: K3sInstallDesired, o: Observation, host: string, version: string): Change[] {
  const token = d.files.find((f) => f.path === K3S_PATHS.token)!;
  const have = o.files.get(K3S_PATHS.token);
  if (have?.type === 'file' && have.sha256 !== sha256(token.content)) {
    throw new KubiError(
      'k3s-token-mismatch',
      d.tokenKnown ? `${K3S_PATHS.token} holds a different token than ${TOKEN_FILE} in the state directory` : `${K3S_PATHS.token} holds a token but the state directory has none`,
      {
        host,
        hint: `k3s encrypts its bootstrap data with the first token: copy ${K3S_PATHS.token} from a running server into <state dir>/${TOKEN_FILE} (mode 0600) and run again`,
      },
    );
  }
  const changes: Change[] = [...planDirs(d.dirs, o), ...planFiles(d.files, o)];
  if (d.binary.state === 'missing') changes.unshift({ kind: 'action', title: d.binary.title, detail: d.binary.detail });
  else if (d.binary.state === 'pending') changes.unshift({ kind: 'action', title: `install k3s ${version} into ${K3S_BINARY_PATH}`, detail: [d.binary.reason] });
  return changes;
}

export const k3sInstall: Step<Observation> = {
  id: 'k3s.install',
  title: 'Install the k3s binary, the join token and the datastore certificate',
  async check(ctx) {
    const d = await k3sInstallDesired(ctx);
    return observeFiles(ctx.remote, [...new Set([...d.dirs.map((x) => x.path), ...d.files.map((f) => f.path), K3S_BINARY_PATH])]);
  },
  async plan(observed, ctx) {
    return planK3sInstall(await k3sInstallDesired(ctx), observed, ctx.host.name, ctx.cluster.inventory.versions.k3s);
  },
};
