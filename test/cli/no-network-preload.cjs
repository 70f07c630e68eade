// Preloaded with `node --require` by no-network.test.ts: records (to $KUBI_NET_RECORD) and refuses
// every attempt to open a network connection or resolve a name, so a test can prove that a
// command opened none. Not a mock of the tool: it watches the real process from outside.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns');
const dgram = require('node:dgram');

const record = (what) => {
  fs.appendFileSync(process.env.KUBI_NET_RECORD, `${what}\n`);
  return new Error(`network access refused by the test preload: ${what}`);
};

const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  const first = args[0];
  // IPC pipes of the process itself (e.g. a pipe path) are not network traffic
  if (first && typeof first === 'object' && typeof first.path === 'string') return origConnect.apply(this, args);
  if (typeof first === 'string' && Number.isNaN(Number(first))) return origConnect.apply(this, args);
  throw record(`net.Socket.connect ${JSON.stringify(first)} ${args[1] === undefined ? '' : JSON.stringify(args[1])}`);
};
for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'reverse']) {
  const orig = dns[name];
  if (typeof orig !== 'function') continue;
  dns[name] = function (...args) {
    throw record(`dns.${name} ${JSON.stringify(args[0])}`);
  };
  if (dns.promises && typeof dns.promises[name] === 'function') {
    dns.promises[name] = async (...args) => {
      throw record(`dns.promises.${name} ${JSON.stringify(args[0])}`);
    };
  }
}
dgram.Socket.prototype.send = function send() {
  throw record('dgram.send');
};
if (typeof globalThis.fetch === 'function') {
  globalThis.fetch = async (input) => {
    throw record(`fetch ${String(input)}`);
  };
}
