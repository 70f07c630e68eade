/** Reads a systemd EnvironmentFile the way systemd does for what we write: KEY=VALUE lines, comments, optional double quotes. */
export function parseEnvFile(text: string): [string, string][] {
  const out: [string, string][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not KEY=VALUE: ${raw}`);
    let value = m[2]!;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.push([m[1]!, value]);
  });
  return out;
}
