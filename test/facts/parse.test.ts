/**
 * The facts parsers on outputs captured from real systems (this workstation) and on the
 * reconstructed Raspberry Pi OS fixtures (see each fixture's header), plus edge cases.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  FACT_SECTIONS,
  archFromUname,
  parseCgroup,
  parseFacts,
  resolveArch,
  splitSections,
} from '../../src/facts/index.js';
import {
  parseContainer,
  parseDeviceTreeModel,
  parseDfAvailable,
  parseIpLink,
  parseMachineId,
  parseOsRelease,
  parseUname,
} from '../../src/facts/parse.js';
import { isKubiError } from '../../src/errors.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string): string => readFileSync(path.join(dir, name), 'utf8');

describe('fixtures', () => {
  it.each([
    'debian12-workstation-amd64.txt',
    'lab-lxc-node-debian12.txt',
    'rpi-os-bookworm-arm64.reconstructed.txt',
    'rpi-os-bullseye-armhf-on-aarch64.reconstructed.txt',
  ])('%s has exactly the sections the current script prints', (name) => {
    expect([...splitSections(fixture(name)).keys()]).toEqual([...FACT_SECTIONS]);
  });
});

describe('parseFacts on the captured Debian 12 workstation', () => {
  const facts = parseFacts(fixture('debian12-workstation-amd64.txt'));

  it('reads os, kernel and arch', () => {
    expect(facts.hostname).toBe('vm');
    expect(facts.os).toEqual({
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      codename: 'bookworm',
      idLike: [],
    });
    expect(facts.kernel).toEqual({ release: '6.18.44-fc-v669', machine: 'x86_64' });
    expect(facts.arch).toBe('amd64');
    expect(facts.archSource).toEqual({ dpkg: 'amd64', uname: 'x86_64' });
  });

  it('reads the hybrid cgroup v1 layout with the memory controller on', () => {
    expect(facts.cgroup.version).toBe(1);
    expect(facts.cgroup.memoryController).toBe(true);
    expect(facts.cgroup.controllers).toEqual(expect.arrayContaining(['cpuset', 'cpu', 'memory', 'pids']));
  });

  it('reads memory, swap, disk, interfaces', () => {
    expect(facts.memory.totalBytes).toBe(24684084 * 1024);
    expect(facts.memory.availableBytes).toBe(24226984 * 1024);
    expect(facts.swap).toEqual({ totalBytes: 0, devices: [] });
    expect(facts.diskFreeVarBytes).toBe(84944932864);
    expect(facts.interfaces).toEqual([
      { name: 'lo', ipv4: ['127.0.0.1/8'], up: true },
      { name: 'ifb0', ipv4: [], up: false },
      { name: 'ifb1', ipv4: [], up: false },
      { name: 'eth0', ipv4: ['192.0.2.2/24'], up: true },
    ]);
  });

  it('reads systemd (installed, not running), container and root', () => {
    expect(facts.systemd).toEqual({ version: 252, running: false });
    expect(facts.timeSync).toEqual({ synchronized: null, service: null });
    expect(facts.packageManager).toBe('apt');
    expect(facts.container).toBe('docker');
    expect(facts.isRoot).toBe(true);
    expect(facts.raspberryPi).toBeNull();
  });

  it('is immutable', () => {
    expect(Object.isFrozen(facts)).toBe(true);
    expect(Object.isFrozen(facts.interfaces[0])).toBe(true);
    expect(() => {
      (facts as { hostname: string }).hostname = 'x';
    }).toThrow();
  });
});

describe('parseFacts on a captured lab node (LXC system container with systemd)', () => {
  const facts = parseFacts(fixture('lab-lxc-node-debian12.txt'));

  it('reads systemd running, the lxc container, NTP not synchronised', () => {
    expect(facts.hostname).toBe('node1');
    expect(facts.systemd).toEqual({ version: 252, running: true });
    expect(facts.container).toBe('lxc');
    expect(facts.timeSync).toEqual({ synchronized: false, service: null });
    expect(facts.isRoot).toBe(true);
  });

  it('reads the veth (eth0@if4) as eth0 with its address, and the rootfs under /var', () => {
    expect(facts.interfaces).toEqual([
      { name: 'lo', ipv4: ['127.0.0.1/8'], up: true },
      { name: 'eth0', ipv4: ['10.78.5.11/24'], up: true },
    ]);
    expect(facts.diskFreeVarBytes).toBe(82813202432);
    expect(facts.cgroup).toMatchObject({ version: 1, memoryController: true });
    expect(facts.arch).toBe('amd64');
  });
});

describe('parseFacts on Raspberry Pi OS (reconstructed fixtures)', () => {
  it('Bookworm arm64: /boot/firmware/cmdline.txt, cgroup v2 without memory', () => {
    const facts = parseFacts(fixture('rpi-os-bookworm-arm64.reconstructed.txt'));
    expect(facts.arch).toBe('arm64');
    expect(facts.os.id).toBe('debian');
    expect(facts.os.codename).toBe('bookworm');
    expect(facts.cgroup).toEqual({ version: 2, memoryController: false, controllers: ['cpuset', 'cpu', 'io', 'pids'] });
    expect(facts.raspberryPi).toEqual({
      model: 'Raspberry Pi 4 Model B Rev 1.4',
      cmdlinePath: '/boot/firmware/cmdline.txt',
      cmdline:
        'console=serial0,115200 console=tty1 root=PARTUUID=5e3da3da-02 rootfstype=ext4 fsck.repair=yes rootwait cfg80211.ieee80211_regdom=GB',
    });
    expect(facts.swap).toEqual({ totalBytes: 102396 * 1024, devices: ['/var/swap'] });
    expect(facts.systemd).toEqual({ version: 252, running: true });
    expect(facts.timeSync).toEqual({ synchronized: true, service: 'systemd-timesyncd' });
    expect(facts.container).toBeNull();
    expect(facts.isRoot).toBe(false);
    expect(facts.interfaces.map((i) => [i.name, i.up, i.ipv4])).toEqual([
      ['lo', true, ['127.0.0.1/8']],
      ['eth0', true, ['192.168.50.21/24']],
      ['wlan0', false, []],
    ]);
  });

  it('Bullseye: armhf userland on an aarch64 kernel is armhf; cmdline in /boot', () => {
    const facts = parseFacts(fixture('rpi-os-bullseye-armhf-on-aarch64.reconstructed.txt'));
    expect(facts.kernel.machine).toBe('aarch64');
    expect(facts.archSource).toEqual({ dpkg: 'armhf', uname: 'aarch64' });
    expect(facts.arch).toBe('armhf');
    expect(facts.os).toMatchObject({ id: 'raspbian', versionId: '11', codename: 'bullseye', idLike: ['debian'] });
    expect(facts.raspberryPi?.cmdlinePath).toBe('/boot/cmdline.txt');
    expect(facts.raspberryPi?.model).toBe('Raspberry Pi 4 Model B Rev 1.1');
    expect(facts.systemd.version).toBe(247);
    expect(facts.cgroup.memoryController).toBe(false);
  });
});

describe('single parsers', () => {
  it('arch: dpkg wins, uname mapping without dpkg', () => {
    expect(resolveArch('armhf', 'aarch64')).toBe('armhf');
    expect(resolveArch(null, 'aarch64')).toBe('arm64');
    expect(resolveArch(null, 'x86_64')).toBe('amd64');
    expect(resolveArch(null, 'armv7l')).toBe('armhf');
    expect(resolveArch(null, 'armv6l')).toBe('armhf');
    expect(resolveArch('i386', 'x86_64')).toBe('unknown');
    expect(archFromUname('riscv64')).toBe('unknown');
  });

  it('cgroup v1: memory off when the enabled column is 0', () => {
    const proc = '#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t2\t1\t1\nmemory\t0\t1\t0\n';
    expect(parseCgroup('tmpfs', '', proc)).toEqual({ version: 1, memoryController: false, controllers: ['cpu'] });
  });

  it('cgroup v2: memory on when listed in cgroup.controllers', () => {
    expect(parseCgroup('cgroup2fs\n', 'cpuset cpu io memory hugetlb pids rdma misc\n', '')).toMatchObject({
      version: 2,
      memoryController: true,
    });
  });

  it('device-tree model: NUL stripped, empty is null', () => {
    expect(parseDeviceTreeModel('Raspberry Pi 5 Model B Rev 1.0\0')).toBe('Raspberry Pi 5 Model B Rev 1.0');
    expect(parseDeviceTreeModel('\n')).toBeNull();
  });

  it('os-release: quotes and escapes', () => {
    const os = parseOsRelease('ID=ubuntu\nID_LIKE="debian"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\nVERSION_ID="24.04"\n');
    expect(os).toEqual({ id: 'ubuntu', versionId: '24.04', prettyName: 'Ubuntu 24.04.1 LTS', codename: null, idLike: ['debian'] });
  });

  it('ip link: veth names lose their @peer suffix', () => {
    expect(
      parseIpLink(
        '7: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 00:16:3e:00:00:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n',
      ),
    ).toEqual([{ name: 'eth0', up: true }]);
  });

  it('df with a mount point that has spaces', () => {
    expect(parseDfAvailable('Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/sdb1 1000 400 600 40% /mnt/my disk\n')).toBe(600);
  });

  it('container: none is null', () => {
    expect(parseContainer('none\n')).toBeNull();
    expect(parseContainer('lxc\n')).toBe('lxc');
  });

  it('uname needs release and machine', () => {
    expect(parseUname('')).toBeNull();
    expect(parseUname('6.1.0-18-amd64 x86_64\n')).toEqual({ release: '6.1.0-18-amd64', machine: 'x86_64' });
  });

  it('unreadable output is a facts error naming the host', () => {
    try {
      parseFacts('bash: line 1: syntax error', { host: 'node1' });
      expect.unreachable();
    } catch (e) {
      expect(isKubiError(e)).toBe(true);
      expect((e as { code: string; host: string }).code).toBe('facts-unreadable');
      expect((e as { host: string }).host).toBe('node1');
    }
  });
});

describe('machineId', () => {
  it('reads /etc/machine-id when it is 32 hex digits, leaves it out otherwise', () => {
    expect(parseMachineId('0123456789abcdef0123456789abcdef\n')).toBe('0123456789abcdef0123456789abcdef');
    expect(parseMachineId('')).toBeNull();
    expect(parseMachineId('uninitialized\n')).toBeNull();
    const withId = fixture('lab-lxc-node-debian12.txt').replace('@@kubi:machine-id@@\n', '@@kubi:machine-id@@\n0123456789abcdef0123456789abcdef\n');
    expect(parseFacts(withId).machineId).toBe('0123456789abcdef0123456789abcdef');
    // the captured fixtures predate the probe: an empty section, no field
    expect('machineId' in parseFacts(fixture('lab-lxc-node-debian12.txt'))).toBe(false);
  });
});
