/**
 * Resolve an SshTarget into exactly what to connect to (pure): ssh config entries applied to the
 * fields the inventory left open, defaults filled in, `~` expanded, the ProxyJump chain parsed
 * into nested targets. Inventory settings always win over ~/.ssh/config.
 */
import { UsageError } from '../errors.js';
import { expandHome, lookupSshConfig, type ParsedSshConfig } from './ssh-config.js';
import type { SshTarget } from './targets.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 300_000;
const DEFAULT_IDENTITY_FILES = ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'];
const MAX_JUMP_DEPTH = 4;

export interface ResolvedTarget {
  /** inventory name (or the alias of a jump host): names it in errors and known_hosts */
  name: string;
  /** the host's address as the inventory gives it */
  address: string;
  /** where the TCP connection goes (ssh config HostName, else address) */
  connectHost: string;
  port: number;
  user: string;
  /** key files to try, in order (absolute or ~-expanded) */
  identityFiles: string[];
  /** were the key files named explicitly (inventory or ssh config) rather than defaults? */
  explicitIdentity: boolean;
  /** ssh-agent socket to try first, or null */
  agentSocket: string | null;
  sudo: boolean;
  /** the hop in front of this host (it may have its own) */
  jump: ResolvedTarget | null;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface ResolveContext {
  /** parsed ~/.ssh/config, when the target says useSshConfig */
  sshConfig?: ParsedSshConfig | null;
  home: string;
  localUser: string;
  /** $SSH_AUTH_SOCK */
  agentSocket?: string | undefined;
}

export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/** Parse one ProxyJump hop `[user@]host[:port]` (also `[v6addr]:port`). */
export function parseJumpSpec(spec: string): JumpSpec {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) {
    throw new UsageError(`invalid jump host "${spec}"`, 'write it as [user@]host[:port], e.g. admin@bastion.example:2222');
  }
  const out: JumpSpec = { host: m[2]!.replace(/^\[(.*)\]$/, '$1') };
  if (m[1] !== undefined) out.user = m[1];
  if (m[3] !== undefined) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new UsageError(`invalid port in jump host "${spec}"`, 'a port is 1-65535');
    out.port = port;
  }
  return out;
}

export function resolveTarget(target: SshTarget, ctx: ResolveContext): ResolvedTarget {
  return resolveWithDepth(target, ctx, 0, null);
}

function resolveWithDepth(target: SshTarget, ctx: ResolveContext, depth: number, inherit: ResolvedTarget | null): ResolvedTarget {
  if (depth > MAX_JUMP_DEPTH) {
    throw new UsageError(`jump host chain for ${target.name} is longer than ${MAX_JUMP_DEPTH} hops (a loop in ~/.ssh/config ProxyJump?)`);
  }
  const conf =
    target.useSshConfig && ctx.sshConfig
      ? lookupSshConfig(ctx.sshConfig, target.name === target.address ? [target.name] : [target.name, target.address], {
          home: ctx.home,
          localUser: ctx.localUser,
        })
      : null;

  const user = target.user ?? conf?.user ?? inherit?.user ?? 'root';
  const port = target.port ?? conf?.port ?? 22;
  const connectHost = conf?.hostName ?? target.address;

  let identityFiles: string[];
  let explicitIdentity: boolean;
  if (target.privateKeyPath !== undefined) {
    identityFiles = [expandHome(target.privateKeyPath, ctx.home)];
    explicitIdentity = true;
  } else if (conf && conf.identityFiles.length > 0) {
    identityFiles = conf.identityFiles;
    explicitIdentity = true;
  } else if (inherit) {
    identityFiles = inherit.identityFiles;
    explicitIdentity = inherit.explicitIdentity;
  } else {
    identityFiles = DEFAULT_IDENTITY_FILES.map((f) => expandHome(f, ctx.home));
    explicitIdentity = false;
  }

  // agent: explicit setting wins; otherwise use it when present and no key was named explicitly
  let useAgent: boolean;
  if (target.agent !== undefined) useAgent = target.agent;
  else if (inherit) useAgent = inherit.agentSocket !== null;
  else useAgent = !explicitIdentity;
  const agentSocket = useAgent && ctx.agentSocket ? ctx.agentSocket : null;

  const connectTimeoutMs = target.connectTimeoutMs ?? inherit?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const commandTimeoutMs = target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;

  const resolved: ResolvedTarget = {
    name: target.name,
    address: target.address,
    connectHost,
    port,
    user,
    identityFiles,
    explicitIdentity,
    agentSocket,
    sudo: target.sudo ?? user !== 'root',
    jump: null,
    connectTimeoutMs,
    commandTimeoutMs,
  };

  const jumpSpec = target.jumpHost !== undefined ? target.jumpHost : conf?.proxyJump ?? null;
  if (jumpSpec) {
    const hops = jumpSpec.split(',').map((h) => h.trim()).filter((h) => h !== '');
    const last = hops.pop();
    if (last !== undefined) {
      const spec = parseJumpSpec(last);
      const jumpTarget: SshTarget = { name: spec.host, address: spec.host, useSshConfig: target.useSshConfig ?? false };
      if (spec.user !== undefined) jumpTarget.user = spec.user;
      if (spec.port !== undefined) jumpTarget.port = spec.port;
      // earlier hops of the chain become the jump host's own jump; else the ssh config may give one
      if (hops.length > 0) jumpTarget.jumpHost = hops.join(',');
      resolved.jump = resolveWithDepth(jumpTarget, ctx, depth + 1, resolved);
    }
  }
  return resolved;
}

/** `user@host:port` (via jump...) for messages. */
export function describeTarget(t: ResolvedTarget): string {
  const here = `${t.user}@${t.connectHost}:${t.port}`;
  return t.jump ? `${here} via ${describeTarget(t.jump)}` : here;
}
