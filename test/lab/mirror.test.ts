import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostDebianMirror, parseDeb822Sources, parseOneLineSources, pickDebianMirror } from '../../src/lab/mirror.js';

// this machine's own /etc/apt/sources.list.d/debian.sources
const deb822 = readFileSync(new URL('./fixtures/debian.sources', import.meta.url), 'utf8');

describe('the Debian mirror of this host', () => {
  it('reads deb822 sources and skips the security archive', () => {
    const s = parseDeb822Sources(deb822);
    expect(s.length).toBeGreaterThanOrEqual(2);
    expect(pickDebianMirror(s, 'bookworm')).toBe('http://deb.debian.org/debian');
    expect(pickDebianMirror(s, 'bookworm-security')).toBe('http://deb.debian.org/debian-security');
    expect(pickDebianMirror(s, 'trixie')).toBeNull();
  });

  it('reads one-line sources with options and comments', () => {
    const s = parseOneLineSources('# comment\ndeb [arch=amd64 signed-by=/x.gpg] http://mirror.example/debian/ bookworm main contrib\ndeb-src http://x/ bookworm main\n');
    expect(s).toEqual([{ uri: 'http://mirror.example/debian/', suites: ['bookworm'], components: ['main', 'contrib'] }]);
    expect(pickDebianMirror(s, 'bookworm')).toBe('http://mirror.example/debian');
  });

  it('ignores disabled deb822 stanzas and says what is missing', async () => {
    expect(parseDeb822Sources('Types: deb\nEnabled: no\nURIs: http://a/\nSuites: bookworm\nComponents: main\n')).toEqual([]);
    const root = await mkdtemp(path.join(os.tmpdir(), 'kubi-mirror-'));
    try {
      await mkdir(path.join(root, 'etc/apt/sources.list.d'), { recursive: true });
      await writeFile(path.join(root, 'etc/apt/sources.list'), 'deb http://only.example/debian bookworm main\n');
      expect(hostDebianMirror('bookworm', root)).toBe('http://only.example/debian');
      expect(() => hostDebianMirror('trixie', root)).toThrow(/no mirror for debian trixie/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
