/**
 * Which Debian mirror the lab's debootstrap uses: the one this host's apt already uses, read from
 * /etc/apt/sources.list.d/*.sources (deb822) or /etc/apt/sources.list (one-line). Pure parsers plus
 * one small reader.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** deb822 stanzas with `Types: deb`. */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | null = null;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || fields.get('enabled') === 'no') continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components') });
  }
  return out;
}

/** One-line `deb [opts] uri suite components...` entries. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ')) continue;
    const rest = line.slice(4).replace(/^\[[^\]]*\]\s*/, '').split(/\s+/);
    const [uri, suite, ...components] = rest;
    if (uri && suite) out.push({ uri, suites: [suite], components });
  }
  return out;
}

/** The mirror serving `suite` main (not the security archive). */
export function pickDebianMirror(sources: readonly AptSource[], suite: string): string | null {
  const hit = sources.find((s) => s.suites.includes(suite) && (s.components.length === 0 || s.components.includes('main')));
  return hit ? hit.uri.replace(/\/+$/, '') : null;
}

export function readHostAptSources(root = '/'): AptSource[] {
  const out: AptSource[] = [];
  const dir = path.join(root, 'etc/apt/sources.list.d');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const p = path.join(dir, f);
      if (f.endsWith('.sources')) out.push(...parseDeb822Sources(readFileSync(p, 'utf8')));
      else if (f.endsWith('.list')) out.push(...parseOneLineSources(readFileSync(p, 'utf8')));
    }
  }
  const list = path.join(root, 'etc/apt/sources.list');
  if (existsSync(list)) out.push(...parseOneLineSources(readFileSync(list, 'utf8')));
  return out;
}

export function hostDebianMirror(suite: string, root = '/'): string {
  const mirror = pickDebianMirror(readHostAptSources(root), suite);
  if (!mirror) {
    throw new KubiError('lab-no-mirror', `this host's apt sources name no mirror for debian ${suite} main`, {
      hint: 'the lab builds its image with debootstrap from the mirror apt uses; add one to /etc/apt/sources.list.d/',
    });
  }
  return mirror;
}
