import { describe, expect, it } from 'vitest';
import {
  expandTokens,
  hostLineMatches,
  lookupSshConfig,
  matchPattern,
  parseSshConfig,
  splitConfigLine,
} from '../../src/transport/ssh-config.js';

const ctx = { home: '/home/me', localUser: 'me' };

describe('splitConfigLine', () => {
  it('reads "Key value", "Key=value", "Key = value" and quoted values', () => {
    expect(splitConfigLine('HostName 10.0.0.1')).toEqual({ key: 'hostname', args: ['10.0.0.1'] });
    expect(splitConfigLine('Port=2222')).toEqual({ key: 'port', args: ['2222'] });
    expect(splitConfigLine('User = pi')).toEqual({ key: 'user', args: ['pi'] });
    expect(splitConfigLine('IdentityFile "/path with space/id"')).toEqual({ key: 'identityfile', args: ['/path with space/id'] });
    expect(splitConfigLine('Host a b  c # trailing comment')).toEqual({ key: 'host', args: ['a', 'b', 'c'] });
  });
});

describe('matchPattern / hostLineMatches', () => {
  it('supports * and ? and is case-insensitive', () => {
    expect(matchPattern('node*', 'node12')).toBe(true);
    expect(matchPattern('node?', 'node1')).toBe(true);
    expect(matchPattern('node?', 'node12')).toBe(false);
    expect(matchPattern('*.lab', 'Pi.LAB')).toBe(true);
    expect(matchPattern('10.0.0.*', '10.0.0.7')).toBe(true);
    expect(matchPattern('10.0.0.*', '10.0.1.7')).toBe(false);
    expect(matchPattern('a.b', 'axb')).toBe(false);
  });

  it('needs a positive match and no negated match', () => {
    expect(hostLineMatches(['*', '!bastion'], 'node1')).toBe(true);
    expect(hostLineMatches(['*', '!bastion'], 'bastion')).toBe(false);
    expect(hostLineMatches(['!bastion'], 'node1')).toBe(false);
  });
});

describe('parseSshConfig + lookupSshConfig', () => {
  const text = `
# global section
User globaluser
IdentityFile ~/.ssh/global_key

Host bastion
  HostName bastion.example.org
  Port 2222
  User jump

Host node? !node9
  HostName %h.lab.example
  User pi
  IdentityFile ~/.ssh/%r_%h
  ProxyJump bastion

Host node1
  User ignored-because-first-wins
  Port 2201

Match host node2
  User never

Host *
  Port 22
  IdentityFile %d/.ssh/fallback
  ProxyJump none
`;
  const config = parseSshConfig(text);

  it('warns about Match instead of guessing', () => {
    expect(config.warnings).toEqual([expect.stringMatching(/line 21: Match blocks are not supported/)]);
  });

  it('takes the first value per keyword over all matching blocks, accumulating IdentityFile', () => {
    const r = lookupSshConfig(config, ['node1'], ctx);
    expect(r.hostName).toBe('node1.lab.example');
    // the global section comes first in the file, so its User wins (OpenSSH semantics)
    expect(r.user).toBe('globaluser');
    expect(r.port).toBe(2201);
    expect(r.proxyJump).toBe('bastion');
    expect(r.identityFiles).toEqual([
      '/home/me/.ssh/global_key',
      '/home/me/.ssh/globaluser_node1.lab.example',
      '/home/me/.ssh/fallback',
    ]);
    expect(r.matched).toEqual(['node? !node9', 'node1', '*']);
  });

  it('honours negation and falls through to Host *', () => {
    const r = lookupSshConfig(config, ['node9'], ctx);
    expect(r.hostName).toBeUndefined();
    expect(r.port).toBe(22);
    expect(r.proxyJump).toBeNull();
  });

  it('matches the address as well as the name', () => {
    const c = parseSshConfig('Host 10.77.0.*\n  User kubi\n  Port 2022\n');
    expect(lookupSshConfig(c, ['etcd-1', '10.77.0.11'], ctx)).toMatchObject({ user: 'kubi', port: 2022 });
    expect(lookupSshConfig(c, ['etcd-1', '10.78.0.11'], ctx).user).toBeUndefined();
  });

  it('ignores keywords it does not honour and an invalid Port', () => {
    const c = parseSshConfig('Host x\n  ForwardAgent yes\n  Port 99999\n  Include other.conf\n');
    expect(lookupSshConfig(c, ['x'], ctx)).toEqual({ identityFiles: [], matched: ['x'] });
    expect(c.warnings).toEqual([expect.stringMatching(/Include is not supported/)]);
  });

  it('expands %% and leaves unknown tokens', () => {
    expect(expandTokens('a%%b%hc%z', { h: 'H' })).toBe('a%bHc%z');
  });
});
