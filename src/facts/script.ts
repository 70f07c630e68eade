/**
 * The read-only bash script that gathers every host fact in ONE round trip.
 *
 * It prints one section per probe, each introduced by a marker line `@@kubi:<section>@@`, and
 * never fails as a whole (each probe swallows its own errors; a missing tool leaves its section
 * empty). No sudo is needed. The pure parsers in parse.ts turn the output into `Facts`.
 * Tests run this exact script locally with bash to capture real fixtures.
 */

/** Every section the script prints, in order. */
export const FACT_SECTIONS = [
  'os-release',
  'uname',
  'dpkg-arch',
  'cgroup-fs',
  'cgroup-controllers',
  'proc-cgroups',
  'dt-model',
  'cmdline-path',
  'cmdline',
  'meminfo',
  'swaps',
  'df-var',
  'hostname',
  'machine-id',
  'ip-addr',
  'ip-link',
  'systemd-version',
  'systemd-running',
  'ntp-synchronized',
  'time-sync-service',
  'package-manager',
  'container',
  'uid',
] as const;
export type FactSection = (typeof FACT_SECTIONS)[number];

export const SECTION_MARKER_PREFIX = '@@kubi:';
export const SECTION_MARKER_SUFFIX = '@@';

/**
 * The script. `LC_ALL=C` keeps tool output stable; `t` bounds (5 s) every probe that could block
 * (D-Bus, a hung network mount under df).
 * /proc/device-tree/model is NUL-terminated: it is printed raw and the parser strips the NUL.
 */
export const FACTS_SCRIPT = String.raw`export LC_ALL=C
s() { printf '\n@@kubi:%s@@\n' "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }
t() { if have timeout; then timeout 5 "$@"; else "$@"; fi; }
s os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s uname; uname -r -m 2>/dev/null
s dpkg-arch; if have dpkg; then dpkg --print-architecture 2>/dev/null; fi
s cgroup-fs; stat -fc %T /sys/fs/cgroup 2>/dev/null
s cgroup-controllers; cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null
s proc-cgroups; cat /proc/cgroups 2>/dev/null
s dt-model; if [ -r /proc/device-tree/model ]; then cat /proc/device-tree/model 2>/dev/null; fi
cmdline=
for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
  if [ -f "$f" ]; then cmdline=$f; break; fi
done
s cmdline-path; if [ -n "$cmdline" ]; then echo "$cmdline"; fi
s cmdline; if [ -n "$cmdline" ]; then cat "$cmdline" 2>/dev/null; fi
s meminfo; grep -E '^(MemTotal|MemAvailable|MemFree|SwapTotal):' /proc/meminfo 2>/dev/null
s swaps; cat /proc/swaps 2>/dev/null
s df-var; t df -PB1 /var 2>/dev/null
s hostname; hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null
s machine-id; cat /etc/machine-id 2>/dev/null
s ip-addr; if have ip; then t ip -o -4 addr show 2>/dev/null; fi
s ip-link; if have ip; then t ip -o link 2>/dev/null; fi
s systemd-version; if have systemctl; then t systemctl --version 2>/dev/null | head -n 1; fi
s systemd-running; if [ -d /run/systemd/system ]; then echo yes; else echo no; fi
s ntp-synchronized
# systemd-timesyncd's flag file; asking timedated instead would D-Bus-activate it on every run
if [ -e /run/systemd/timesync/synchronized ]; then echo NTPSynchronized=yes; fi
s time-sync-service
if [ -d /run/systemd/system ] && have systemctl; then
  ts=(systemd-timesyncd chrony chronyd ntp ntpsec openntpd)
  mapfile -t st < <(t systemctl is-active "\${ts[@]/%/.service}" 2>/dev/null)
  for i in "\${!ts[@]}"; do if [ "\${st[i]:-}" = active ]; then echo "\${ts[i]}"; fi; done
fi
s package-manager; for p in apt-get dnf yum zypper apk pacman; do if have "$p"; then echo "$p"; break; fi; done
s container
if have systemd-detect-virt; then t systemd-detect-virt --container 2>/dev/null
elif [ -r /run/systemd/container ]; then cat /run/systemd/container; echo
else echo unknown; fi
s uid; id -u 2>/dev/null
exit 0
`;
