/**
 * The string formats of the inventory: one regular expression and one message per kind of value.
 * The schema uses them (so the generated JSON Schema carries them as `pattern` for editors), the
 * rules reuse them. Each pattern also keeps hostile values out: no shell metacharacters, quotes,
 * `$(`, backticks or newlines can pass a format where such characters can never be valid.
 */

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?';
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_PREFIX = `${DNS_LABEL}(?:\\.${DNS_LABEL})*`;
const LABEL_KEY = `(?:${LABEL_PREFIX}/)?${LABEL_NAME}`;
const LABEL_VALUE = LABEL_NAME;

export interface Format {
  pattern: RegExp;
  /** lower-case, says what is expected (the value itself is quoted by the caller) */
  message: string;
  /** how to fix it */
  hint: string;
}

function format(source: string, message: string, hint: string): Format {
  return { pattern: new RegExp(`^${source}$`), message, hint };
}

export const FORMATS = {
  hostName: format(
    DNS_LABEL,
    'must be a lower-case host name (RFC 1123 label)',
    'use lower-case letters, digits and "-", at most 63 characters, starting and ending with a letter or digit (e.g. pi-1)',
  ),
  clusterName: format(
    DNS_LABEL,
    'must be a lower-case name (RFC 1123 label)',
    'use lower-case letters, digits and "-", at most 63 characters (e.g. homelab); it names the kubeconfig context and the state directory',
  ),
  ipv4: format(IPV4, 'must be an IPv4 address', 'write four decimal numbers 0-255 without leading zeros, e.g. 192.168.1.10'),
  cidr: format(
    `${IPV4}/(?:3[0-2]|[12]?[0-9])`,
    'must be an IPv4 CIDR block',
    'write a network address and a prefix length, e.g. 10.42.0.0/16',
  ),
  k3sVersion: format(
    'v1\\.[0-9]+\\.[0-9]+(?:-rc[0-9]+)?\\+k3s[0-9]+',
    'must be a k3s release tag like v1.34.3+k3s1',
    'copy the tag from the k3s releases page, e.g. v1.34.3+k3s1 (quote it in YAML)',
  ),
  etcdVersion: format('v3\\.[456]\\.[0-9]+', 'must be an etcd v3.4, v3.5 or v3.6 release like v3.5.21', 'write the release tag with its leading v, e.g. v3.5.21'),
  containerdVersion: format(
    'v?[0-9]+\\.[0-9]+\\.[0-9]+(?:-(?:rc|beta|alpha)\\.[0-9]+)?',
    'must be a containerd release like 1.7.28',
    'write major.minor.patch, e.g. 1.7.28 (a leading v is accepted); quote it if YAML reads it as a number',
  ),
  runcVersion: format('v[0-9]+\\.[0-9]+\\.[0-9]+(?:-rc\\.?[0-9]+)?', 'must be a runc release tag like v1.3.0', 'write the tag with its leading v, e.g. v1.3.0'),
  cniVersion: format('v[0-9]+\\.[0-9]+\\.[0-9]+', 'must be a CNI plugins release tag like v1.7.1', 'write the tag with its leading v, e.g. v1.7.1'),
  labelKey: format(
    LABEL_KEY,
    'is not a valid Kubernetes label key',
    'a key is [prefix/]name: name up to 63 letters, digits, "-", "_", "." starting and ending alphanumeric; prefix a lower-case DNS name (e.g. example.com/rack)',
  ),
  labelValue: format(
    `(?:${LABEL_VALUE})?`,
    'is not a valid Kubernetes label value',
    'a value is empty or up to 63 letters, digits, "-", "_", "." starting and ending alphanumeric; quote values YAML reads as numbers or booleans',
  ),
  taint: format(
    `${LABEL_KEY}(?:=${LABEL_VALUE})?:(?:NoSchedule|PreferNoSchedule|NoExecute)`,
    'must be a taint like key[=value]:NoSchedule|PreferNoSchedule|NoExecute',
    'e.g. dedicated=storage:NoSchedule; key and value follow the label rules, the effect is case-sensitive',
  ),
  sshUser: format('[A-Za-z_][A-Za-z0-9._-]{0,31}', 'must be a login user name', 'letters, digits, ".", "_", "-", at most 32 characters, e.g. pi'),
  jumpHost: format(
    '(?:[A-Za-z_][A-Za-z0-9._-]{0,31}@)?[A-Za-z0-9](?:[-A-Za-z0-9.]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?',
    'must be a jump host like [user@]host[:port]',
    'e.g. admin@bastion.example.com:2222 or 192.168.1.2',
  ),
  interfaceName: format(
    '[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}',
    'must be a network interface name',
    'at most 15 letters, digits, "_", ".", "-" as `ip link` shows it, e.g. eth0 or end0',
  ),
  localPath: format(
    '[^\\x00-\\x1f\\x7f$`;\'"|&<>\\\\]{1,4096}',
    'must be a file path without shell metacharacters',
    'a path may not contain control characters, quotes, backticks, "$", ";", "|", "&", "<", ">" or "\\"',
  ),
  remotePath: format(
    '/[A-Za-z0-9._+/-]{0,1023}',
    'must be an absolute path of plain characters',
    'start with "/" and use only letters, digits, ".", "_", "+", "-" and "/", e.g. /var/lib/etcd',
  ),
  url: format(
    'https?://[^\\x00-\\x20\\x7f"\'`<>\\\\{}|^]{1,2048}',
    'must be an http:// or https:// URL',
    'e.g. http://mirror.lan:8080/kubi (no spaces or quotes; percent-encode special characters)',
  ),
} as const satisfies Record<string, Format>;

export type FormatName = keyof typeof FORMATS;
