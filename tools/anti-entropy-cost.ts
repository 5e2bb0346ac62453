// What one anti-entropy round costs on the wire, measured on the simulated cluster of the default
// shape (4 replicas, RF 3) with every datagram encoded as the real codec would (CBOR, sealed):
//   npm run anti-entropy-cost
// Three cases: replicas that agree on all 256 keys; one key that differs; a replica that lost everything.
import { Codec } from '../src/io/codec.js';
import { newKeyringText, parseKeyring } from '../src/io/keyring.js';
import { peerKeys } from '../src/io/keys.js';
import type { Message } from '../src/core/messages.js';
import { SimCluster } from './sim/cluster.js';

const antiEntropyMessages = new Set(['ae', 'ae.ok', 'ae.pull', 'ae.pull.ok', 'hints', 'hints.ok']);
const codec = new Codec(peerKeys(parseKeyring(newKeyringText(), 'a generated keyring'), 0), 60_000);

interface Count { datagrams: number; bytes: number }

function age(sim: SimCluster): { sentAtMs: number; deadlineMs: number } {
  const sentAtMs = Math.floor(sim.now);
  return { sentAtMs, deadlineMs: sentAtMs + 5_000 };
}

function measure(prepare: (sim: SimCluster) => void, label: string): void {
  // No hints and no periodic rounds: only the measured round repairs anything.
  const sim = new SimCluster({ seed: 1, nodes: 4, replicationFactor: 3, repairMode: 'read-repair', configOverrides: { antiEntropyIntervalMs: 0 } });
  sim.runFor(50);
  for (let key = 0; key < 256; key++) {
    const reply = sim.request(key % 4, { t: 'put', id: key + 1, key, value: `value of key ${key} `.padEnd(100, '.'), level: 'ALL', ...age(sim) });
    if (reply?.t !== 'put.ok') throw new Error(`put ${key}: ${JSON.stringify(reply)}`);
  }
  sim.runFor(100);
  prepare(sim);
  const perKind = new Map<string, Count>();
  const send = sim.send.bind(sim);
  sim.send = (from: string, to: string, msg: Message) => {
    if (antiEntropyMessages.has(msg.t)) {
      const c = perKind.get(msg.t) ?? { datagrams: 0, bytes: 0 };
      c.datagrams++;
      c.bytes += codec.encode(msg).length;
      perKind.set(msg.t, c);
    }
    send(from, to, msg);
  };
  const reply = sim.request(0, { t: 'repair', id: 1_000 }, 10_000);
  if (reply?.t !== 'repair.ok') throw new Error(`repair: ${JSON.stringify(reply)}`);
  const total = [...perKind.values()].reduce((a, c) => ({ datagrams: a.datagrams + c.datagrams, bytes: a.bytes + c.bytes }), { datagrams: 0, bytes: 0 });
  const peers = reply.peers.length;
  console.log(`${label}: replica-1's round with its ${peers} peers: ${total.datagrams} datagrams, ${total.bytes} bytes ` +
    `(${(total.datagrams / peers).toFixed(1)} datagrams, ${Math.round(total.bytes / peers)} bytes per peer); ` +
    `keys sent ${reply.peers.reduce((n, p) => n + p.sent, 0)}, received ${reply.peers.reduce((n, p) => n + p.received, 0)}`);
  for (const [kind, c] of perKind) console.log(`  ${kind.padEnd(10)} ${String(c.datagrams).padStart(3)} datagrams ${String(c.bytes).padStart(7)} bytes`);
}

measure(() => {}, 'replicas agree (256 keys of 100 bytes)');
measure((sim) => {
  // replica-2 misses one write to key 5 (its replicas: replica-1, 2, 3): cut off until the write's deadline passed.
  sim.cutOneWay(sim.addresses[0]!, sim.addresses[1]!);
  sim.request(0, { t: 'put', id: 2_000, key: 5, value: 'newer', level: 'TWO', ...age(sim) });
  sim.runFor(sim.config.writeTimeoutMs + 50);
  sim.heal();
  sim.runFor(50);
}, 'one key differs');
measure((sim) => {
  sim.crash(1);
  const disk = (sim as unknown as { nodes: { disk: { snapshot: unknown; durable: unknown[] } }[] }).nodes[1]!.disk;
  disk.snapshot = null;
  disk.durable = [];
  sim.restart(1);
  sim.runFor(50);
}, 'replica-2 lost its data (it shares 128 keys with replica-1)');
