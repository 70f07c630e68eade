/**
 * Small helpers shared by the host and etcd steps for their read-only check scripts: a section
 * marker function for bash (the same `@@kubi:<name>@@` markers the facts script uses, so one
 * pure splitter parses both) and little parsers for common outputs.
 */
import { splitSections } from '../../facts/parse.js';
import type { RemoteHost } from '../../transport/types.js';
import { observeScript, parseObservation, type Observation, type ObserveRequest } from '../lib/observe.js';

/** Put at the top of a check script: `s <name>` starts a section. */
export const SECTION_FN = String.raw`s() { printf '\n@@kubi:%s@@\n' "$1"; }`;

/** Split a check script's output into sections; missing sections read as ''. */
export function sections(output: string): (name: string) => string {
  const map = splitSections(output);
  return (name) => (map.get(name) ?? '').replace(/\n$/, '');
}

/** Non-empty trimmed lines. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '');
}

/** `KEY=value` lines (systemctl show, os-release style) into a map; later keys win. */
export function parseKeyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines(text)) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** Format bytes as MiB/GiB for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

/** Marker between the observe script's output and a step's own extra probes. */
const EXTRA_MARKER = '@@kubi:extra@@';

/**
 * Observe files/units (src/steps/lib/observe.ts) AND run a step's own read-only probes in ONE
 * round trip: the extra script runs after the observe script, behind a marker line.
 */
export async function observeWithExtra(
  remote: RemoteHost,
  req: ObserveRequest,
  extraScript: string,
  label: string,
): Promise<{ observation: Observation; extra: string }> {
  const script = `${observeScript(req)}\necho ${EXTRA_MARKER}\n${extraScript}\n`;
  const res = await remote.script(script, { mutating: false, label });
  return splitObserveOutput(res.stdout, req, remote.name);
}

/** Pure: split the combined output (used by observeWithExtra and by test doubles' checks). */
export function splitObserveOutput(stdout: string, req: ObserveRequest, host?: string): { observation: Observation; extra: string } {
  const at = stdout.indexOf(`\n${EXTRA_MARKER}\n`);
  const head = at < 0 ? stdout : stdout.slice(0, at + 1);
  const extra = at < 0 ? '' : stdout.slice(at + EXTRA_MARKER.length + 2);
  return { observation: parseObservation(head, req, host), extra };
}
