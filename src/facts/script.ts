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
 * (D-Bus, a hung network mount under df). Text files are read with bash builtins (`rd`): the
 * script runs on every `plan`/`up`, and every process it spares counts on a Raspberry Pi.
 * /proc/device-tree/model is NUL-terminated: it is printed raw and the parser strips the NUL.
 */
export const FACTS_SCRIPT = String.raw`export LC_ALL=C
s() { printf '\n@@kubi:%s@@\n' "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }
t() { if have timeout; then timeout 5 "$@"; else "$@"; fi; }
# print a text file with bash builtins only (no cat process: this script runs on every run, on Pis too)
rd() { [ -r "$1" ] || return 1; local l; while IFS= read -r l || [ -n "$l" ]; do printf '%s
' "$l"; done <"$1"; }
s os-release; rd /etc/os-release || rd /usr/lib/os-release
s uname; uname -r -m 2>/dev/null
s dpkg-arch; if have dpkg; then dpkg --print-architecture 2>/dev/null; fi
s cgroup-fs; stat -fc %T /sys/fs/cgroup 2>/dev/null
s cgroup-controllers; rd /sys/fs/cgroup/cgroup.controllers
s proc-cgroups; rd /proc/cgroups
s dt-model; if [ -r /proc/device-tree/model ]; then cat /proc/device-tree/model 2>/dev/null; fi
cmdline=
for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
  if [ -f "$f" ]; then cmdline=$f; break; fi
done
s cmdline-path; if [ -n "$cmdline" ]; then echo "$cmdline"; fi
s cmdline; if [ -n "$cmdline" ]; then rd "$cmdline"; fi
s meminfo; while read -r k v; do case $k in MemTotal:|MemAvailable:|MemFree:|SwapTotal:) echo "$k $v" ;; esac; done </proc/meminfo
s swaps; rd /proc/swaps
s df-var; t df -PB1 /var 2>/dev/null
s hostname; rd /proc/sys/kernel/hostname || hostname 2>/dev/null
s machine-id; rd /etc/machine-id
s ip-addr; if have ip; then ip -o -4 addr show 2>/dev/null; fi
s ip-link; if have ip; then ip -o link 2>/dev/null; fi
s systemd-version; if have systemctl; then t systemctl --version 2>/dev/null | head -n 1; fi
s systemd-running; if [ -d /run/systemd/system ]; then echo yes; else echo no; fi
s ntp-synchronized
# systemd-timesyncd's flag file; asking timedated instead would D-Bus-activate it on every run
if [ -e /run/systemd/timesync/synchronized ]; then echo NTPSynchronized=yes; fi
s time-sync-service
if [ -d /run/systemd/system ] && have systemctl; then
  # one systemctl for all of them: it prints one state per unit, in order
  t systemctl is-active systemd-timesyncd.service chrony.service chronyd.service ntp.service ntpsec.service openntpd.service 2>/dev/null |
    for u in systemd-timesyncd chrony chronyd ntp ntpsec openntpd; do read -r a; if [ "$a" = active ]; then echo "$u"; fi; done
fi
s package-manager; for p in apt-get dnf yum zypper apk pacman; do if have "$p"; then echo "$p"; break; fi; done
s container
if have systemd-detect-virt; then t systemd-detect-virt --container 2>/dev/null
elif [ -r /run/systemd/container ]; then cat /run/systemd/container; echo
else echo unknown; fi
s uid; echo "$EUID"
exit 0
`;
