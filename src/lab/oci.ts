/**
 * A tiny OCI image archive built locally, without any registry: one uncompressed layer holding a
 * static busybox (from Debian's busybox-static) with its applet links and /etc/passwd, an image
 * config, a manifest, and an index whose annotation names the image (docker.io/kubi/busybox:latest),
 * importable with `ctr -n k8s.io image import`. Deterministic: the same busybox gives the same bytes.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalRunner } from './exec.js';
import { sha256 } from './fsutil.js';

export const BUSYBOX_IMAGE_NAME = 'docker.io/kubi/busybox:latest';

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The config, manifest and index JSON documents for one layer (pure). */
export function ociDocuments(layer: { digest: string; size: number }, arch: string, name: string) {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layer.digest}`] },
      history: [{ created_by: 'kubi-provision lab (busybox-static)' }],
    }),
  );
  const configDesc: OciDescriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: configDesc,
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layer.digest}`, size: layer.size }],
    }),
  );
  const tag = name.slice(name.lastIndexOf(':') + 1);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${sha256(manifest)}`,
          size: manifest.length,
          platform: { architecture: arch, os: 'linux' },
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { config, manifest, index };
}

const TAR_FLAGS = ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0'];

/** Build `<out>` from a static busybox binary. */
export async function buildBusyboxOci(busybox: string, arch: string, out: string, runner: LocalRunner): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'kubi-oci-'));
  try {
    const root = path.join(work, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) await mkdir(path.join(root, d), { recursive: true });
    await copyFile(busybox, path.join(root, 'bin/busybox'));
    await chmod(path.join(root, 'bin/busybox'), 0o755);
    const applets = (await runner.output([busybox, '--list'])).split('\n').map((s) => s.trim()).filter((a) => a && a !== 'busybox' && !a.includes('/'));
    for (const a of applets) await symlink('busybox', path.join(root, 'bin', a));
    await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(root, 'etc/group'), 'root:x:0:\n');
    await chmod(path.join(root, 'tmp'), 0o1777);
    const layerTar = path.join(work, 'layer.tar');
    await runner.run(['tar', ...TAR_FLAGS, '-C', root, '-cf', layerTar, '.']);
    const layer = await readFile(layerTar);
    const layerDigest = sha256(layer);
    const docs = ociDocuments({ digest: layerDigest, size: layer.length }, arch, BUSYBOX_IMAGE_NAME);
    const oci = path.join(work, 'oci');
    const blobs = path.join(oci, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    await writeFile(path.join(blobs, layerDigest), layer);
    await writeFile(path.join(blobs, sha256(docs.config)), docs.config);
    await writeFile(path.join(blobs, sha256(docs.manifest)), docs.manifest);
    await writeFile(path.join(oci, 'index.json'), docs.index);
    await writeFile(path.join(oci, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await runner.run(['tar', ...TAR_FLAGS, '-C', oci, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
