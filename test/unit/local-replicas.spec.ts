import { expect } from 'chai';
import { localReplicas, LocalReplicasError } from '../../src/io/local-replicas.js';

const fourHosts = [1, 2, 3, 4].map((i) => ({ name: `replica-${i}`, host: `10.213.0.${i}` }));
const noLookup = () => null;

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(LocalReplicasError);
    return (e as Error).message;
  }
  return expect.fail('expected a LocalReplicasError');
}

describe('io/local-replicas (which replicas ecosystem.config.js starts here)', () => {
  it('starts every replica when all are on loopback', () => {
    const loopback = [1, 2, 3].map((i) => ({ name: `r${i}`, host: '127.0.0.1' }));
    expect(localReplicas(loopback, 'nodes.toml', {}, ['127.0.0.1', '192.168.1.5'], noLookup)).to.deep.equal(['r1', 'r2', 'r3']);
  });

  it('starts only the replicas whose host is an address of this machine', () => {
    expect(localReplicas(fourHosts, 'nodes.toml', {}, ['127.0.0.1', '10.213.0.2'], noLookup)).to.deep.equal(['replica-2']);
  });

  it('goes by listen when it names an address, and resolves hostnames', () => {
    const nodes = [
      { name: 'a', host: '203.0.113.7', listen: '10.213.0.1' }, // behind NAT: peers send to the public address
      { name: 'b', host: 'b.example', listen: '0.0.0.0' },
      { name: 'c', host: 'c.example' },
    ];
    const lookup = (h: string) => ({ 'b.example': '10.213.0.9', 'c.example': '10.213.0.3' })[h] ?? null;
    expect(localReplicas(nodes, 'nodes.toml', {}, ['10.213.0.1', '10.213.0.9'], lookup)).to.deep.equal(['a', 'b']);
  });

  it('KV_NODES names them instead, and must name replicas of the file', () => {
    expect(localReplicas(fourHosts, 'nodes.toml', { KV_NODES: 'replica-3, replica-1' }, [], noLookup)).to.deep.equal(['replica-1', 'replica-3']);
    expect(refusal(() => localReplicas(fourHosts, 'nodes.toml', { KV_NODES: 'replica-9' }, [], noLookup)))
      .to.equal('KV_NODES names "replica-9", not in nodes.toml (replicas: replica-1, replica-2, replica-3, replica-4)');
  });

  it('starting none is an error naming the file\'s hosts and this machine\'s addresses', () => {
    const nodes = [...fourHosts.slice(0, 3), { name: 'replica-4', host: 'gone.example' }];
    expect(refusal(() => localReplicas(nodes, 'nodes.toml', {}, ['127.0.0.1', '192.168.1.5'], noLookup))).to.equal(
      'nodes.toml: no replica of this file is on this machine; the file\'s hosts: replica-1 10.213.0.1, replica-2 10.213.0.2, ' +
      'replica-3 10.213.0.3, replica-4 gone.example (does not resolve); this machine\'s addresses: 127.0.0.1, 192.168.1.5. ' +
      'Start the right file here, or name the replicas: KV_NODES=replica-1 pm2 start ecosystem.config.js');
  });
});
