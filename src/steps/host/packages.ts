/**
 * `host.packages`: the distribution packages every node needs (conntrack, socat, ipset,
 * iptables), installed through apt-get. The check is one `dpkg-query -W`; `apt-get update` runs
 * only when something is missing (a converged host never touches the package index).
 */
import { KubiError } from '../../errors.js';
import type { Change, Step } from '../../engine/types.js';
import { quoteWord } from '../../transport/quote.js';
import { lines } from './script.js';

export const REQUIRED_PACKAGES = ['conntrack', 'socat', 'ipset', 'iptables'] as const;

export interface PackagesObserved {
  packageManager: string | null;
  /** package -> installed? */
  installed: Record<string, boolean>;
}

/** `dpkg-query -W -f '${Package} ${db:Status-Status}\n' ...` output (missing packages print nothing). */
export function parseDpkgQuery(text: string, wanted: readonly string[]): Record<string, boolean> {
  const out: Record<string, boolean> = Object.fromEntries(wanted.map((p) => [p, false]));
  for (const line of lines(text)) {
    const [pkg, status] = line.split(/\s+/);
    if (!pkg) continue;
    const name = pkg.replace(/:.*$/, ''); // multi-arch suffix
    if (name in out && status === 'installed') out[name] = true;
  }
  return out;
}

export function installScript(packages: readonly string[]): string {
  const list = packages.map(quoteWord).join(' ');
  return [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -q',
    `apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${list}`,
  ].join('\n');
}

export function planPackages(observed: PackagesObserved, wanted: readonly string[] = REQUIRED_PACKAGES): Change[] {
  const missing = wanted.filter((p) => !observed.installed[p]);
  if (missing.length === 0) return [];
  if (observed.packageManager !== 'apt') {
    throw new KubiError('packages-no-apt', `cannot install ${missing.join(', ')}: no apt-get on this host`, {
      hint: `install ${missing.join(' ')} with the host's package manager, then run again`,
    });
  }
  return [{ kind: 'script', title: `apt-get install ${missing.join(' ')}`, script: installScript(missing) }];
}

/** The read-only check: one dpkg-query (missing packages print nothing; never fails). */
export function packagesCheckScript(packages: readonly string[] = REQUIRED_PACKAGES): string {
  return `dpkg-query -W -f '\${Package} \${db:Status-Status}\\n' ${packages.map(quoteWord).join(' ')} 2>/dev/null; true`;
}

export const hostPackages: Step<PackagesObserved> = {
  id: 'host.packages',
  title: 'Install the required host packages',
  async check(ctx) {
    const res = await ctx.remote.script(packagesCheckScript(), {
      label: 'query installed packages',
      mutating: false,
    });
    return { packageManager: ctx.facts.packageManager, installed: parseDpkgQuery(res.stdout, REQUIRED_PACKAGES) };
  },
  plan(observed) {
    return planPackages(observed);
  },
};
