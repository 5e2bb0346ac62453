// Hostnames in nodes.toml's `host` are looked up once, at start (IPv4, as the sockets are udp4): the
// core compares every replica message's source address with the sender's configured address, so
// it needs addresses, not names. A name that does not resolve stops the start with one line naming
// the node and the host; under pm2 the replica is restarted, and so looks again.
import { lookup } from 'node:dns/promises';
import type { ClusterConfig, NodeSpec } from '../core/types.js';
import { isIpv4 } from './config.js';

export class HostResolveError extends Error {
  override name = 'HostResolveError';
}

type Lookup = (host: string) => Promise<string>;

const lookupIpv4: Lookup = async (host) => (await lookup(host, { family: 4 })).address;

/** The config with every hostname replaced by its IPv4 address (the same object when there are none). */
export async function resolveHosts(config: ClusterConfig, resolve: Lookup = lookupIpv4): Promise<ClusterConfig> {
  if (config.nodes.every((n) => isIpv4(n.host))) return config;
  const nodes = await Promise.all(config.nodes.map(async (n): Promise<NodeSpec> => {
    if (isIpv4(n.host)) return n;
    let address: string;
    try {
      address = await resolve(n.host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      throw new HostResolveError(`${n.name}: host ${JSON.stringify(n.host)} does not resolve to an IPv4 address (${code})`);
    }
    return Object.freeze({ ...n, host: address });
  }));
  const seen = new Map<string, string>();
  for (const n of nodes) {
    const at = `${n.host}:${n.port}`;
    const other = seen.get(at);
    if (other !== undefined) throw new HostResolveError(`${n.name} and ${other} both resolve to ${at}`);
    seen.set(at, n.name);
  }
  return Object.freeze({ ...config, nodes: Object.freeze(nodes) });
}
