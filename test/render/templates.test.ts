/**
 * Rules every template and every rendered file follows: `<%-` only, registered templates, the
 * managed header in the file's syntax, byte-identical output for the same input, no leaked
 * `undefined`, clean line ends.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MANAGED_NOTICE, TEMPLATES, TEMPLATE_DIR } from '../../src/render/index.js';
import { clearTemplateCache } from '../../src/render/engine.js';
import { sampleInventory } from './helpers/sample.js';
import { renderAll } from './helpers/all-files.js';

function listTemplates(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTemplates(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

/** Lines of a template that use the HTML-escaping tag. */
export function escapingTags(source: string): number[] {
  return source.split('\n').flatMap((line, i) => (line.includes('<%=') ? [i + 1] : []));
}

const variants = {
  'bridge + keepalived + containerd 1.7': sampleInventory(),
  'flannel + kube-vip + containerd 2.1': sampleInventory({
    versions: { containerd: '2.1.4' },
    network: { cni: 'flannel' },
    endpoint: { mode: 'kube-vip', vip: '10.77.0.100', interface: 'eth1', port: 7443 },
  }),
  'bridge + no endpoint + containerd 2.0': sampleInventory({ versions: { containerd: 'v2.0.5' }, endpoint: { mode: 'none' } }),
};

describe('templates', () => {
  const files = listTemplates(TEMPLATE_DIR);

  it('the check for <%= finds it (control)', () => {
    expect(escapingTags('a\nb <%= x %>\n')).toEqual([2]);
    expect(escapingTags('a <%- x %>\n')).toEqual([]);
  });

  it('no template uses <%= (it HTML-escapes and corrupts TOML, YAML and unit files)', () => {
    expect(files.length).toBeGreaterThanOrEqual(Object.keys(TEMPLATES).length);
    for (const f of files) {
      expect(escapingTags(readFileSync(path.join(TEMPLATE_DIR, f), 'utf8')), f).toEqual([]);
    }
  });

  it('every template file is registered, and every registered template exists', () => {
    const onDisk = files.filter((f) => f.endsWith('.ejs')).map((f) => f.slice(0, -'.ejs'.length)).sort();
    expect(onDisk).toEqual(Object.keys(TEMPLATES).sort());
    expect(files.every((f) => f.endsWith('.ejs'))).toBe(true);
  });
});

describe.each(Object.entries(variants))('rendered files (%s)', (_label, inv) => {
  const rendered = renderAll(inv);

  it('renders for every host', () => {
    expect(new Set(rendered.map((f) => f.host))).toEqual(new Set(inv.hosts.map((h) => h.name)));
  });

  it('every file starts with the managed header in its syntax', () => {
    for (const f of rendered) {
      const lines = f.content.split('\n');
      if (f.content.startsWith('{')) {
        const parsed = JSON.parse(f.content) as Record<string, unknown>;
        expect(Object.keys(parsed)[0], f.path).toBe('_comment');
        expect(parsed._comment, f.path).toBe(MANAGED_NOTICE);
      } else if (f.content.startsWith('#!')) {
        expect(lines[1], f.path).toBe(`# ${MANAGED_NOTICE}`);
      } else {
        expect(lines[0], f.path).toBe(`# ${MANAGED_NOTICE}`);
      }
    }
  });

  it('is byte-identical when rendered again, also from a cold template cache', () => {
    expect(renderAll(inv)).toEqual(rendered);
    clearTemplateCache();
    expect(renderAll(inv)).toEqual(rendered);
  });

  it('has no leaked undefined/null/[object Object], no trailing spaces, no CR, one final newline', () => {
    for (const f of rendered) {
      expect(f.content, f.path).not.toMatch(/undefined|(?<!\/dev\/)\bnull\b|\[object Object\]|NaN/);
      expect(f.content, f.path).not.toMatch(/[ \t]+$/m);
      expect(f.content, f.path).not.toContain('\r');
      expect(f.content.endsWith('\n') && !f.content.endsWith('\n\n'), f.path).toBe(true);
    }
  });

  it('gives every file a path that is absolute and a sensible mode (scripts executable, configs not)', () => {
    for (const f of rendered) {
      expect(f.path.startsWith('/'), f.path).toBe(true);
      if (f.content.startsWith('#!')) expect(f.mode, f.path).toBe(0o755);
      else expect([0o644, 0o600], f.path).toContain(f.mode);
    }
  });
});
