/** Reads the reference data in ../shared/data (flag tables read from the upstream sources). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED_DATA = path.resolve(REPO_ROOT, '../shared/data');

export interface K3sFlag {
  name: string;
  aliases: string[];
  type: 'string' | 'bool' | 'int' | 'stringSlice' | 'duration';
  k3s_splits_commas: boolean;
  config_yaml_key: boolean;
}

export interface K3sFlags {
  server: K3sFlag[];
  agent: K3sFlag[];
  critical_server_values_must_match: { keys: string[] };
}

export interface EtcdFlag {
  name: string;
  env: string | null;
  type: string;
  deprecated: boolean;
}

export function k3sFlags(): K3sFlags {
  return JSON.parse(readFileSync(path.join(SHARED_DATA, 'k3s-flags.json'), 'utf8')) as K3sFlags;
}

export function etcdFlags(): { flags: EtcdFlag[]; ignored_flags: string[]; deprecated_flags: string[] } {
  return JSON.parse(readFileSync(path.join(SHARED_DATA, 'etcd-flags.json'), 'utf8')) as {
    flags: EtcdFlag[];
    ignored_flags: string[];
    deprecated_flags: string[];
  };
}
