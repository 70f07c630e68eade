/**
 * `endpoint.install` (mode keepalived): keepalived, and curl for its health check, from the
 * host's package manager (the lab: its local repository). One read-only `command -v` when
 * converged. Other modes install nothing.
 */
import { KubiError } from '../../errors.js';
import type { Change, Step } from '../../engine/types.js';
import type { Facts } from '../../facts/types.js';
import { quoteWord } from '../../transport/quote.js';

export const ENDPOINT_PACKAGES = ['keepalived', 'curl'] as const;

export interface InstallObserved {
  /** program -> found on PATH */
  present: Record<string, boolean>;
}

export function presenceScript(programs: readonly string[]): string {
  return programs.map((p) => `if command -v ${quoteWord(p)} >/dev/null 2>&1 || [ -x /usr/sbin/${quoteWord(p)} ]; then echo "${p} yes"; else echo "${p} no"; fi`).join('\n');
}

export function parsePresence(text: string, programs: readonly string[]): Record<string, boolean> {
  const out: Record<string, boolean> = Object.fromEntries(programs.map((p) => [p, false]));
  for (const line of text.split('\n')) {
    const [p, v] = line.trim().split(' ');
    if (p && p in out) out[p] = v === 'yes';
  }
  return out;
}

/** The install command for a package manager (null: not supported). */
export function installScriptFor(pm: Facts['packageManager'], packages: readonly string[]): string | null {
  const list = packages.map(quoteWord).join(' ');
  switch (pm) {
    case 'apt':
      return ['set -e', 'export DEBIAN_FRONTEND=noninteractive', 'apt-get update -q', `apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${list}`].join('\n');
    case 'dnf':
    case 'yum':
      return `set -e\n${pm} install -y ${list}`;
    case 'zypper':
      return `set -e\nzypper --non-interactive install ${list}`;
    case 'apk':
      return `set -e\napk add ${list}`;
    case 'pacman':
      return `set -e\npacman -S --noconfirm --needed ${list}`;
    default:
      return null;
  }
}

export function planEndpointInstall(o: InstallObserved, pm: Facts['packageManager']): Change[] {
  const missing = ENDPOINT_PACKAGES.filter((p) => !o.present[p]);
  if (missing.length === 0) return [];
  const script = installScriptFor(pm, missing);
  if (!script) {
    throw new KubiError('packages-unsupported', `cannot install ${missing.join(', ')}: no supported package manager on this host`, {
      hint: `install ${missing.join(' ')} by hand, then run again`,
    });
  }
  return [{ kind: 'script', title: `install ${missing.join(' ')} (${pm})`, script }];
}

export const endpointInstall: Step<InstallObserved | null> = {
  id: 'endpoint.install',
  title: 'Install keepalived for the API virtual IP',
  async check(ctx) {
    if (ctx.cluster.inventory.endpoint.mode !== 'keepalived') return null;
    const res = await ctx.remote.script(presenceScript(ENDPOINT_PACKAGES), { mutating: false, label: 'look for keepalived and curl' });
    return { present: parsePresence(res.stdout, ENDPOINT_PACKAGES) };
  },
  plan(o, ctx) {
    return o === null ? [] : planEndpointInstall(o, ctx.facts.packageManager);
  },
};
