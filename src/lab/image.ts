/**
 * Builds and caches the lab's base image: debootstrap (bookworm, minbase, from the mirror this host's
 * apt uses) + the configuration in image-recipe.ts, in `<cache>/images/<recipe hash>/rootfs`.
 * Containers use that rootfs read-only as their overlay lower dir. For the vm backend the same rootfs
 * becomes an ext4 disk (mkfs.ext4 -d, no loop mount) converted to qcow2, plus the kernel and initrd
 * copied out of /boot. A build happens in a private temp dir and is renamed into place when complete,
 * so a crash never leaves a half image that looks ready.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { LocalRunner } from './exec.js';
import { removeTree } from './fsutil.js';
import { hostDebianMirror } from './mirror.js';
import { imageRecipe, recipeHash, withMyHostname, type ImageRecipe } from './image-recipe.js';

export interface LabImage {
  hash: string;
  dir: string;
  rootfs: string;
  recipe: ImageRecipe;
}

export interface VmImage {
  disk: string;
  kernel: string;
  initrd: string;
}

export function imageDir(cacheDir: string, hash: string): string {
  return path.join(cacheDir, 'images', hash);
}

export function isImageReady(dir: string): boolean {
  return existsSync(path.join(dir, 'ready')) && existsSync(path.join(dir, 'rootfs', 'usr', 'sbin', 'sshd'));
}

export async function hostArch(runner: LocalRunner): Promise<string> {
  return runner.output(['dpkg', '--print-architecture']);
}

/** The cached image for the current recipe, building it when missing. */
export async function ensureImage(
  cacheDir: string,
  runner: LocalRunner,
  say: (line: string) => void,
): Promise<{ image: LabImage; built: boolean }> {
  const recipe = imageRecipe(await hostArch(runner));
  const hash = recipeHash(recipe);
  const dir = imageDir(cacheDir, hash);
  const image: LabImage = { hash, dir, rootfs: path.join(dir, 'rootfs'), recipe };
  if (isImageReady(dir)) return { image, built: false };

  const mirror = hostDebianMirror(recipe.suite);
  say(`building the lab base image ${hash} (debootstrap ${recipe.suite} from ${mirror}; about 2-3 minutes, once)`);
  const partial = path.join(cacheDir, 'images', `${hash}.partial-${process.pid}`);
  await removeStalePartials(path.join(cacheDir, 'images'), hash, runner);
  await mkdir(partial, { recursive: true, mode: 0o755 });
  const rootfs = path.join(partial, 'rootfs');
  try {
    await runner.run(
      ['debootstrap', `--variant=${recipe.variant}`, `--arch=${recipe.arch}`, `--include=${recipe.packages.join(',')}`, recipe.suite, rootfs, mirror],
      { timeoutMs: 1_800_000, quietStdout: true },
    );
    await configureRootfs(rootfs, recipe, runner);
    await writeFile(path.join(partial, 'recipe.json'), `${JSON.stringify({ hash, ...recipe, mirror }, null, 2)}\n`);
    await writeFile(path.join(partial, 'ready'), `${new Date().toISOString()}\n`);
    if (isImageReady(dir)) {
      // another lab process finished the same image first: keep theirs
      await removeTree(partial, runner);
    } else {
      await rm(dir, { recursive: true, force: true });
      await rename(partial, dir);
    }
  } catch (e) {
    await removeTree(partial, runner).catch(() => undefined);
    throw e;
  }
  return { image, built: true };
}

async function removeStalePartials(imagesDir: string, hash: string, runner: LocalRunner): Promise<void> {
  if (!existsSync(imagesDir)) return;
  for (const d of readdirSync(imagesDir)) {
    const m = new RegExp(`^${hash}\\.partial-(\\d+)$`).exec(d);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && isAlive(pid)) continue; // another build is running
    await removeTree(path.join(imagesDir, d), runner);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Apply the recipe's files and chroot commands to a fresh debootstrap rootfs. */
export async function configureRootfs(rootfs: string, recipe: ImageRecipe, runner: LocalRunner): Promise<void> {
  for (const f of recipe.files) {
    const p = path.join(rootfs, f.path);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, f.content);
    await chmod(p, f.mode);
  }
  await rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  for (const k of readdirSync(path.join(rootfs, 'etc/ssh'))) {
    if (k.startsWith('ssh_host_')) await rm(path.join(rootfs, 'etc/ssh', k), { force: true });
  }
  const nss = path.join(rootfs, 'etc/nsswitch.conf');
  await writeFile(nss, withMyHostname(await readFile(nss, 'utf8')));
  for (const argv of recipe.chroot) await runner.run(['chroot', rootfs, ...argv], { timeoutMs: 600_000 });
  await runner.run(['chroot', rootfs, 'systemctl', 'mask', ...recipe.masked], { allowFailure: true });
  for (const d of ['root/.ssh', 'home/kubi/.ssh']) {
    await mkdir(path.join(rootfs, d), { recursive: true });
    await chmod(path.join(rootfs, d), 0o700);
  }
  await runner.run(['chroot', rootfs, 'chown', 'kubi:kubi', '/home/kubi/.ssh']);
  await rm(path.join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(path.join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
}

/** uid and gid of a user in the image (from its /etc/passwd). */
export function imageUser(rootfs: string, user: string): { uid: number; gid: number } {
  const line = readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new KubiError('lab-image', `the lab image has no user ${user}`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The qcow2 disk, kernel and initrd of the vm backend, built from the rootfs once per image. */
export async function ensureVmImage(image: LabImage, runner: LocalRunner, say: (line: string) => void): Promise<{ vm: VmImage; built: boolean }> {
  const vmDir = path.join(image.dir, 'vm');
  const vm: VmImage = { disk: path.join(vmDir, 'base.qcow2'), kernel: path.join(vmDir, 'vmlinuz'), initrd: path.join(vmDir, 'initrd.img') };
  if (existsSync(path.join(vmDir, 'ready'))) return { vm, built: false };
  say(`building the vm disk of image ${image.hash} (mkfs.ext4 -d + qemu-img convert)`);
  const tmp = path.join(image.dir, `vm.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const boot = path.join(image.rootfs, 'boot');
    const kernels = readdirSync(boot).filter((f) => f.startsWith('vmlinuz-')).sort();
    const kernel = kernels[kernels.length - 1];
    if (!kernel) throw new KubiError('lab-image', `no kernel in ${boot}`, { hint: 'the image recipe must include linux-image-amd64' });
    const version = kernel.slice('vmlinuz-'.length);
    const initrd = path.join(boot, `initrd.img-${version}`);
    if (!existsSync(initrd)) throw new KubiError('lab-image', `no initrd for kernel ${version} in ${boot}`);
    await runner.run(['cp', path.join(boot, kernel), path.join(tmp, 'vmlinuz')]);
    await runner.run(['cp', initrd, path.join(tmp, 'initrd.img')]);
    const raw = path.join(tmp, 'base.raw');
    await runner.run(['mkfs.ext4', '-q', '-F', '-L', 'kubiroot', '-d', image.rootfs, raw, '8G'], { timeoutMs: 600_000 });
    await runner.run(['qemu-img', 'convert', '-O', 'qcow2', raw, path.join(tmp, 'base.qcow2')], { timeoutMs: 600_000 });
    await rm(raw, { force: true });
    await writeFileAtomic(path.join(tmp, 'ready'), `${new Date().toISOString()} kernel ${version}\n`);
    if (existsSync(path.join(vmDir, 'ready'))) {
      await rm(tmp, { recursive: true, force: true }); // built meanwhile by another lab process (maybe in use)
    } else {
      await rm(vmDir, { recursive: true, force: true });
      await rename(tmp, vmDir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const size = (await stat(vm.disk)).size;
  say(`vm disk ready (${Math.round(size / 1048576)} MiB)`);
  return { vm, built: true };
}
