/** A small systemd unit file reader for tests: sections with their keys in order, and Exec*= word splitting. */

export type UnitFile = Map<string, [string, string][]>;

export function parseUnit(text: string): UnitFile {
  const sections: UnitFile = new Map();
  let current: [string, string][] | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      if (sections.has(section[1]!)) throw new Error(`line ${i + 1}: section [${section[1]}] appears twice`);
      current = [];
      sections.set(section[1]!, current);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv) throw new Error(`line ${i + 1}: not a key=value line: ${raw}`);
    if (!current) throw new Error(`line ${i + 1}: key outside a section`);
    current.push([kv[1]!, kv[2]!]);
  });
  return sections;
}

export function values(unit: UnitFile, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/**
 * Split an Exec*= value into words the way systemd does for what we write: the special
 * prefixes (-@:+!|) are dropped, words split on whitespace, double quotes group with `\\` and `\"`
 * escapes, then `%%` and `$$` become `%` and `$`.
 */
export function splitExec(value: string): string[] {
  const v = value.replace(/^[-@:+!|]+/, '');
  const words: string[] = [];
  let i = 0;
  while (i < v.length) {
    while (v[i] === ' ' || v[i] === '\t') i++;
    if (i >= v.length) break;
    let word = '';
    if (v[i] === '"') {
      i++;
      while (i < v.length && v[i] !== '"') {
        if (v[i] === '\\' && i + 1 < v.length) {
          word += v[i + 1];
          i += 2;
        } else word += v[i++];
      }
      if (v[i] !== '"') throw new Error(`unterminated quote in ${value}`);
      i++;
    } else {
      while (i < v.length && v[i] !== ' ' && v[i] !== '\t') {
        if (v[i] === '\\' || v[i] === '"' || v[i] === "'") throw new Error(`unexpected ${v[i]} in a bare word of ${value}`);
        word += v[i++];
      }
    }
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}
