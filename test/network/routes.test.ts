import { describe, expect, it } from 'vitest';
import { podRoutesFor } from '../../src/network/routes.js';

const nodes = [
  { name: 'a', address: '10.0.0.1' },
  { name: 'b', address: '10.0.0.2' },
  { name: 'c', address: '10.0.0.3' },
];
const subnets = { a: '10.42.0.0/24', b: '10.42.1.0/24', c: '10.42.2.0/24' };

describe('podRoutesFor', () => {
  it('routes every other node\'s pod subnet via that node', () => {
    expect(podRoutesFor('b', nodes, subnets)).toEqual([
      { dst: '10.42.0.0/24', via: '10.0.0.1', node: 'a' },
      { dst: '10.42.2.0/24', via: '10.0.0.3', node: 'c' },
    ]);
    expect(podRoutesFor('a', [nodes[0]!], { a: '10.42.0.0/24' })).toEqual([]);
  });

  it('fails when a node has no subnet, the host is unknown, or values are malformed', () => {
    expect(() => podRoutesFor('a', nodes, { a: '10.42.0.0/24', b: '10.42.1.0/24' })).toThrow(/node c has no pod subnet/);
    expect(() => podRoutesFor('x', nodes, subnets)).toThrow(/not one of the cluster's nodes/);
    expect(() => podRoutesFor('a', nodes, { ...subnets, b: '10.42.1.0/24; reboot' })).toThrow(/not an IPv4 CIDR/);
    expect(() => podRoutesFor('a', [...nodes.slice(0, 2), { name: 'c', address: 'c.example' }], subnets)).toThrow(/not an IPv4 address/);
  });
});
