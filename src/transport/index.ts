/** Public API of the SSH transport (the only place that imports ssh2). */
export type * from './types.js';
export { shellQuote, quoteWord } from './quote.js';
export { RemoteCommandError, STDERR_TAIL_LINES } from './errors.js';
export { SshHost, DEFAULT_MAX_CHANNELS, DEFAULT_RECONNECT_TIMEOUT_MS, type TransportOptions, type SudoPasswordPrompt } from './ssh.js';
export { rebootAndWait, readBootId, BOOT_ID_PATH, DEFAULT_REBOOT_TIMEOUT_MS, type RebootOptions } from './reboot.js';
export { connectHosts, ConnectHostsError, type HostPool } from './pool.js';
export { KeyLoader, type PassphrasePrompt } from './auth.js';
export { JumpConnections, type ConnectionOptions } from './connection.js';
export { targetFor, targetsFromInventory, mergeSshSettings, type SshTarget, type TargetOptions } from './targets.js';
export { resolveTarget, parseJumpSpec, describeTarget, type ResolvedTarget } from './resolve.js';
export { parseSshConfig, lookupSshConfig, type ParsedSshConfig, type SshConfigResult } from './ssh-config.js';
export {
  KnownHostsFile,
  forgetHost,
  knownHostsPath,
  fingerprintOf,
  parseKnownHosts,
  formatKnownHosts,
  type KnownHostEntry,
  type HostKeyEvent,
  type HostKeyPolicy,
} from './known-hosts.js';
