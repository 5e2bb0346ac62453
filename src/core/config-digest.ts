// What every replica's nodes.toml must agree on, as a short digest carried in heartbeats: the nodes
// in ring order (name, address, port), the replication factor, the value limit and, when it is not
// the default byte-ordered one, the partitioner with its key limit. Two replicas
// that disagree on these place keys differently or refuse each other's values, so they exchange no
// replica traffic. Tuning fields (timeouts, gossip, repair mode, listen addresses) may differ.
// CRC-32 is enough: this catches a stale or edited copy of the file, the AEAD (io/seal.ts) guards against forgery.
import { crc32 } from './crc32.js';
import type { ClusterConfig } from './types.js';

export function configDigest(config: ClusterConfig): string {
  const agreed = JSON.stringify({
    nodes: config.nodes.map((n) => [n.name, n.host, n.port]),
    replicationFactor: config.replicationFactor,
    valueBytesMax: config.valueBytesMax,
    // Only when hashed: a byte-ordered cluster's digest is the one it always had.
    ...(config.partitioner === 'hashed' ? { partitioner: config.partitioner, keyBytesMax: config.keyBytesMax } : {}),
  });
  return crc32(new TextEncoder().encode(agreed)).toString(16).padStart(8, '0');
}
