// Which replicas of nodes.toml belong on this machine: the ones whose address is one of its own
// (os.networkInterfaces), all of them when they are all on loopback. KV_NODES=replica-2,replica-3
// names them instead (for a replica behind NAT, whose host is not an address of its machine).
// Used by ecosystem.config.js, so `pm2 start ecosystem.config.js` on a host starts only its own.
import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { isIpv4 } from './config.js';

export class LocalReplicasError extends Error {
  override name = 'LocalReplicasError';
}

export interface ReplicaAddress { name: string; host: string; listen?: string | undefined }

type Lookup = (host: string) => string | null;

/** How long one hostname lookup may take. */
const lookupTimeoutMs = 5_000;

/**
 * pm2 loads the ecosystem file with require(), which cannot wait for a promise, and Node has no
 * synchronous DNS: so a hostname is looked up by a short child node (only hostnames; addresses need none).
 */
const lookupIpv4: Lookup = (host) => {
  const script = "require('node:dns').lookup(process.argv[1], { family: 4 }, (e, a) => { if (e) process.exit(1); process.stdout.write(a); })";
  const r = spawnSync(process.execPath, ['-e', script, host], { encoding: 'utf8', timeout: lookupTimeoutMs });
  return r.status === 0 && isIpv4(r.stdout) ? r.stdout : null;
};

/** Every IPv4 address of this machine's interfaces. */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.');
}

/**
 * The names of the replicas to start here, in file order. A replica is local when its listen
 * address (unless 0.0.0.0) or else its host, resolved, is loopback or an address of this machine.
 * Throws LocalReplicasError naming the file's hosts and this machine's addresses when none is.
 */
export function localReplicas(
  nodes: readonly ReplicaAddress[], source: string,
  env: NodeJS.ProcessEnv = process.env, addresses: readonly string[] = machineAddresses(), resolve: Lookup = lookupIpv4,
): string[] {
  const wanted = env.KV_NODES?.trim();
  if (wanted !== undefined && wanted !== '') {
    const names = wanted.split(',').map((n) => n.trim()).filter((n) => n !== '');
    const unknown = names.filter((n) => !nodes.some((node) => node.name === n));
    if (unknown.length > 0) throw new LocalReplicasError(`KV_NODES names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, not in ${source} (replicas: ${nodes.map((n) => n.name).join(', ')})`);
    return nodes.filter((n) => names.includes(n.name)).map((n) => n.name);
  }
  const own = new Set(addresses);
  const resolved = nodes.map((n) => {
    const bind = n.listen !== undefined && n.listen !== '0.0.0.0' ? n.listen : n.host;
    return { node: n, address: isIpv4(bind) ? bind : resolve(bind) };
  });
  const local = resolved.filter((r) => r.address !== null && (isLoopback(r.address) || own.has(r.address)));
  if (local.length > 0) return local.map((r) => r.node.name);
  const hosts = resolved.map((r) => `${r.node.name} ${r.node.listen !== undefined && r.node.listen !== '0.0.0.0' ? r.node.listen : r.node.host}` +
    `${r.address === null ? ' (does not resolve)' : r.address !== r.node.host && r.address !== r.node.listen ? ` (${r.address})` : ''}`);
  throw new LocalReplicasError(`${source}: no replica of this file is on this machine; the file's hosts: ${hosts.join(', ')}; ` +
    `this machine's addresses: ${[...own].join(', ') || 'none'}. Start the right file here, or name the replicas: KV_NODES=${nodes[0]?.name ?? 'replica-1'} pm2 start ecosystem.config.js`);
}
