/**
 * The template engine: loads `templates/<name>.ejs` (shipped in the package, found relative to
 * this module so it works from src/ under vitest and from dist/ when installed), compiles each
 * once, renders it with a typed context and adds the "managed by kubi-provision" header in the
 * file's comment syntax. The only I/O of src/render/ is reading the template files.
 *
 * Templates see one local, `ctx`: the typed context plus `ctx.q` (the quoting helpers of
 * quote.ts) and `ctx.notice`. They use `<%-` only; `<%=` (HTML escaping, which corrupts TOML,
 * YAML and unit files) throws at render time and is also refused by a test that reads every template.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ejs from 'ejs';
import { KubiError } from '../errors.js';
import * as q from './quote.js';

/** The sentence every rendered file carries (in a comment, or for JSON in a `_comment` field). */
export const MANAGED_NOTICE = 'managed by kubi-provision — do not edit, changes are overwritten by `kubi-provision up`';

/** How the header goes into a file. */
export type HeaderStyle =
  /** `# ...` as the first line (systemd units, TOML, YAML, sysctl.d, modules-load.d, keepalived, profile.d) */
  | 'hash'
  /** `# ...` right after the `#!` line */
  | 'script'
  /** no comments in JSON: the template writes the notice into a top-level `_comment` field itself */
  | 'json-field';

/** Every template, by its path under templates/ without `.ejs`; the path mirrors the remote file (variants add `.server`, `.v2`, ...). */
export const TEMPLATES = {
  'etc/modules-load.d/kubi.conf': 'hash',
  'etc/sysctl.d/90-kubi.conf': 'hash',
  'etc/systemd/system/etcd.service': 'hash',
  'etc/etcd/etcd.env': 'hash',
  'etc/profile.d/etcdctl.sh': 'hash',
  'etc/containerd/config.v2.toml': 'hash',
  'etc/containerd/config.v3.toml': 'hash',
  'etc/systemd/system/containerd.service': 'hash',
  'etc/crictl.yaml': 'hash',
  'etc/cni/net.d/10-kubi-bridge.conflist': 'json-field',
  'etc/cni/net.d/99-loopback.conf': 'json-field',
  'etc/systemd/system/kubi-pod-routes.service': 'hash',
  'usr/local/lib/kubi/pod-routes.sh': 'script',
  'etc/rancher/k3s/config.server.yaml': 'hash',
  'etc/rancher/k3s/config.agent.yaml': 'hash',
  'etc/systemd/system/k3s.service': 'hash',
  'etc/keepalived/keepalived.conf': 'hash',
  'etc/keepalived/check-apiserver.sh': 'script',
  'var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml': 'hash',
} as const satisfies Record<string, HeaderStyle>;

export type TemplateName = keyof typeof TEMPLATES;

/** A file ready for a step to write: remote path, content, mode. */
export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
  /** content must never be shown or logged */
  secret?: boolean;
}

/** templates/ at the package root: ../../templates from src/render/ and from dist/render/ alike. */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

const compiled = new Map<TemplateName, ejs.TemplateFunction>();

function forbiddenEscape(): never {
  throw new KubiError('render-internal', 'a template uses <%= (HTML escaping); use <%- and a quoting helper from ctx.q');
}

function compile(name: TemplateName): ejs.TemplateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    const filename = path.join(TEMPLATE_DIR, `${name}.ejs`);
    let source: string;
    try {
      source = readFileSync(filename, 'utf8');
    } catch (cause) {
      throw new KubiError('render-internal', `template ${name} is missing from ${TEMPLATE_DIR}`, { cause, hint: 'reinstall kubi-provision; the package ships templates/' });
    }
    fn = ejs.compile(source, { filename, strict: true, _with: false, localsName: 'ctx', escape: forbiddenEscape, async: false }) as ejs.TemplateFunction;
    compiled.set(name, fn);
  }
  return fn;
}

function withHeader(name: TemplateName, body: string): string {
  const style: HeaderStyle = TEMPLATES[name];
  const header = `# ${MANAGED_NOTICE}\n`;
  switch (style) {
    case 'hash':
      return header + body;
    case 'script': {
      const nl = body.indexOf('\n');
      if (!body.startsWith('#!') || nl < 0) throw new KubiError('render-internal', `template ${name} must start with a #! line`);
      return body.slice(0, nl + 1) + header + body.slice(nl + 1);
    }
    case 'json-field':
      if (!body.includes(q.json(MANAGED_NOTICE))) throw new KubiError('render-internal', `template ${name} must write the managed notice into a _comment field`);
      return body;
  }
}

/**
 * Render one template. The result has the managed header, `\n` line ends, no trailing spaces
 * and exactly one final newline, so the same context always gives byte-identical output.
 */
export function renderTemplate<C extends object>(name: TemplateName, context: C): string {
  const fn = compile(name);
  const raw = fn({ ...context, q, notice: MANAGED_NOTICE }) as string;
  const body = raw
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n*$/, '\n');
  return withHeader(name, body);
}

/** Drop every compiled template (tests that edit templates; never needed at run time). */
export function clearTemplateCache(): void {
  compiled.clear();
}
