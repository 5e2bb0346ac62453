// Packet faults with nftables: one table of this run's own (inet ringkv_chaos_<pid>) whose output
// chain drops datagrams on loopback that match only the cluster's UDP ports. A partition cuts
// (source port -> destination port) pairs of replicas; loss drops a random share of every datagram
// to or from a replica port (clients included). Each fault flushes the chain and writes its rules in
// one transaction; the table is deleted when the run ends, however it ends.
import { execFile, spawnSync } from 'node:child_process';
import { onCleanup } from '../bench/cleanup.js';
import { run } from '../bench/cluster.js';

const nftCommandMs = 10_000;

/** One direction cut: datagrams from port `from` to port `to`. */
export interface Cut { from: number; to: number }

export function tableName(pid = process.pid): string {
  return `ringkv_chaos_${pid}`;
}

/** The table and its empty chain (accept by default: only the rules drop). */
export function tableScript(table: string): string {
  return [
    `table inet ${table} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    '  }',
    '}',
  ].join('\n');
}

export function cutRules(cuts: readonly Cut[]): string[] {
  return cuts.map((c) => `oifname "lo" udp sport ${c.from} udp dport ${c.to} drop`);
}

/** Every datagram to a replica port, and every one from a replica port to anyone else (a client). */
export function lossRules(ports: readonly number[], percent: number): string[] {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`loss: expected 0..100 percent, got ${percent}`);
  const set = `{ ${ports.join(', ')} }`;
  return [
    `oifname "lo" udp dport ${set} numgen random mod 100 < ${percent} drop`,
    `oifname "lo" udp sport ${set} udp dport != ${set} numgen random mod 100 < ${percent} drop`,
  ];
}

/** Replaces the chain's rules in one transaction. */
export function rulesScript(table: string, rules: readonly string[]): string {
  return [`flush chain inet ${table} out`, ...rules.map((r) => `add rule inet ${table} out ${r}`)].join('\n') + '\n';
}

/** `nft -f -` with the script on stdin: one atomic transaction. */
function nft(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], { timeout: nftCommandMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nft -f - failed: ${err.message}\n${stderr}`.trim()));
      else resolve(stdout);
    });
    child.stdin?.end(script);
  });
}

export class NftTable {
  private constructor(readonly name: string) {}

  /** Creates the table, registered for deletion at cleanup; throws if nft is missing or not permitted. */
  static async create(name = tableName()): Promise<NftTable> {
    const table = new NftTable(name);
    onCleanup({
      what: `nft delete table inet ${name}`,
      run: () => table.delete(),
      runSync: () => { spawnSync('nft', ['delete', 'table', 'inet', name], { stdio: 'ignore', timeout: 5_000 }); },
    });
    await nft(tableScript(name));
    return table;
  }

  set(rules: readonly string[]): Promise<string> {
    return nft(rulesScript(this.name, rules));
  }

  clear(): Promise<string> {
    return this.set([]);
  }

  async delete(): Promise<void> {
    try {
      await run('nft', ['delete', 'table', 'inet', this.name], { timeoutMs: nftCommandMs });
    } catch (e) {
      // Already gone (never created, or deleted before) is fine; anything else is reported.
      if (!/No such file or directory|does not exist/i.test(e instanceof Error ? e.message : String(e))) throw e;
    }
  }
}

/** Why packet faults cannot run here, or null when nft works (tried with a throwaway table). */
export async function nftUnusable(): Promise<string | null> {
  const probe = `${tableName()}_probe`;
  try {
    await nft(tableScript(probe));
    await run('nft', ['delete', 'table', 'inet', probe], { timeoutMs: nftCommandMs });
    return null;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/ENOENT/.test(msg)) return 'nft is not installed (Debian: apt-get install nftables)';
    return `nft does not work here (root or CAP_NET_ADMIN needed): ${msg.split('\n').slice(-1)[0]}`;
  }
}
