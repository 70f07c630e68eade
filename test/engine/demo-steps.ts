/**
 * Demo steps for the real-sshd test: N file steps, each rendering one ejs "template" per host
 * into `<root>/<host>/demo/file-NN.conf` (hosts in that test share this machine's filesystem,
 * hence the per-host directory). Templates live in a mutable map so a test can change one.
 */
import ejs from 'ejs';
import type { Step } from '../../src/engine/types.js';
import { observeDesired, planDesired, type DesiredState } from '../../src/steps/lib/desired.js';

export interface DemoTemplates {
  /** step number (1-based) -> ejs template; `host` and `n` are in scope */
  text: Map<number, string>;
  /** step number of the one file that is secret (content never shown) */
  secretStep?: number;
  secretValue?: string;
}

export function demoSteps(root: string, count: number, templates: DemoTemplates): Step<unknown>[] {
  const steps: Step<unknown>[] = [];
  for (let n = 1; n <= count; n++) {
    const nn = String(n).padStart(2, '0');
    const desired = (host: string): DesiredState => {
      const secret = templates.secretStep === n;
      const content = secret ? `token=${templates.secretValue ?? ''}\n` : ejs.render(templates.text.get(n) ?? `# file <%- n %> for <%- host %>\n`, { host, n });
      return {
        dirs: [
          { path: `${root}/${host}`, mode: 0o755 },
          { path: `${root}/${host}/demo`, mode: 0o750 },
        ],
        files: [{ path: `${root}/${host}/demo/file-${nn}.conf`, content, mode: secret ? 0o600 : 0o644, ...(secret ? { secret: true } : {}) }],
      };
    };
    steps.push({
      id: `demo.file-${nn}`,
      title: `Write demo file ${nn}`,
      check: (ctx) => observeDesired(ctx.remote, desired(ctx.host.name)),
      plan: (obs, ctx) => planDesired(desired(ctx.host.name), obs as Parameters<typeof planDesired>[1]),
    });
  }
  return steps;
}
