/**
 * Pure parsers of the upstream checksum files, and the sha256 of a local file.
 * Formats met in the releases:
 * - sha256sum / `shasum -a 256` lists: `<hex>  <name>` or `<hex> *<name>` (k3s sha256sum-<arch>.txt,
 *   etcd SHA256SUMS, runc.sha256sum, containerd <file>.sha256sum, CNI <file>.sha256);
 * - a bare hash (crictl <file>.sha256);
 * - BSD style `SHA256 (<name>) = <hex>` (accepted for hand-made offline directories).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ArtifactError, type ArtifactSpec } from './catalogue.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

function baseName(name: string): string {
  return name.replace(/^\*/, '').split('/').pop() ?? name;
}

export interface ChecksumEntry {
  sha256: string;
  /** file name (base name) or null for a bare hash */
  name: string | null;
}

/** Every entry of a checksum file, hashes lower-cased; unknown lines are ignored. */
export function parseChecksumFile(text: string): ChecksumEntry[] {
  const out: ChecksumEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const bsd = /^SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})$/.exec(line);
    if (bsd) {
      out.push({ sha256: (bsd[2] as string).toLowerCase(), name: baseName(bsd[1] as string) });
      continue;
    }
    const [hash, ...rest] = line.split(/\s+/);
    if (!hash || !HEX64.test(hash)) continue;
    const name = rest.join(' ');
    out.push({ sha256: hash.toLowerCase(), name: name === '' ? null : baseName(name) });
  }
  return out;
}

/** The expected sha256 of `spec.fileName` according to its checksum file's text. */
export function expectedSha256(spec: Pick<ArtifactSpec, 'fileName' | 'checksumFileName' | 'checksumFormat'>, text: string): string {
  const entries = parseChecksumFile(text);
  const named = entries.find((e) => e.name === spec.fileName);
  if (named) return named.sha256;
  if (spec.checksumFormat === 'single' && entries.length === 1 && entries[0]?.name === null) return entries[0].sha256;
  throw new ArtifactError(
    'artifact-checksum-missing',
    `${spec.checksumFileName} has no sha256 for ${spec.fileName}`,
    `the checksum file must hold a line "<sha256>  ${spec.fileName}" (as sha256sum prints it)`,
  );
}

/** sha256 (hex) of a local file, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
