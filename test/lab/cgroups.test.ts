import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroupMountHook, parseCgroupLayout } from '../../src/lab/cgroups.js';

// captured on the lab machine: cgroup v1 with cpu and cpuacct as SEPARATE hierarchies, plus cgroup2 (hybrid)
const hybrid = readFileSync(new URL('./fixtures/mountinfo-hybrid-separate-cpu.txt', import.meta.url), 'utf8');

describe('cgroup layout', () => {
  it('reads the hybrid layout of the lab machine', () => {
    const l = parseCgroupLayout(hybrid);
    expect(l.pureV2).toBe(false);
    expect(l.unified).toBe(true);
    expect(l.systemdV1).toBe(true);
    expect(l.v1).toContainEqual(['cpu']);
    expect(l.v1).toContainEqual(['cpuacct']);
    expect(l.v1).toContainEqual(['memory']);
  });

  it('pre-mounts cpu under the name systemd expects when cpu and cpuacct are separate', () => {
    const hook = cgroupMountHook(parseCgroupLayout(hybrid))!;
    expect(hook).toContain('m "cpu,cpuacct" cpu');
    expect(hook).toContain('ln -sfn "cpu,cpuacct" "$R/cpu"');
    expect(hook).toContain('m "cpuacct" cpuacct');
    expect(hook).toContain('m systemd none,name=systemd');
    expect(hook).toContain('cgroup2');
    execFileSync('sh', ['-n', '-c', hook]); // valid shell
  });

  it('co-mounted cpu,cpuacct gets its usual links and no renaming', () => {
    const mi = [
      '31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      '33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n');
    const hook = cgroupMountHook(parseCgroupLayout(mi))!;
    expect(hook).toContain('m "cpu,cpuacct" cpu,cpuacct');
    expect(hook).toContain('ln -sfn "cpu,cpuacct" "$R/cpu"');
    expect(hook).toContain('ln -sfn "cpu,cpuacct" "$R/cpuacct"');
    expect(hook).not.toContain('unified');
  });

  it('needs no hook on a pure cgroup v2 host', () => {
    expect(cgroupMountHook(parseCgroupLayout('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot'))).toBeNull();
  });
});
