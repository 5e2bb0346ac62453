// `--baseline limit`: ringkv's process layout (this client process, one coordinator process per
// lane, three replica processes) as bare UDP echo processes (echo-node.ts), driven through the same
// closed loop at the same concurrency. Its figures are what Node and this machine can do at all.
// `--baseline limit-durable` is the same with the one cost a durable store cannot skip: each echo
// replica appends a put's log record per write to an O_DSYNC file, one write per event-loop turn,
// before the turn's acks leave (ringkv's group commit, without its codec, checks or state).
import { createSocket, type Socket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Codec } from '../../src/io/codec.js';
import { newKeyringText, parseKeyring } from '../../src/io/keyring.js';
import { peerKeys } from '../../src/io/keys.js';
import { requiredAcks } from '../../src/core/quorum.js';
import { encodeRecord } from '../../src/core/log-record.js';
import type { Message } from '../../src/core/messages.js';
import type { Level } from '../../src/core/types.js';
import { spawnTracked, waitForLine, type Child } from './children.js';
import type { Target } from './driver.js';
import { echoHeaderBytes, echoOp, type EchoSpec, type MessageSizes } from './echo-protocol.js';
import type { WatchedProcess } from './proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const host = '127.0.0.1';
const readyTimeoutMs = 15_000;
/** A request unanswered this long fails as NoResponseError (the bare client does not retransmit). */
const requestDeadlineMs = 2_000;
const sweepIntervalMs = 250;

/** Sizes of ringkv's own datagrams for this value size, level and coordinator name, encoded by its codec. */
export function messageSizes(valueBytes: number, readLevel: Level, writeLevel: Level, coordinatorName: string): MessageSizes {
  const codec = new Codec(peerKeys(parseKeyring(newKeyringText(), 'a generated keyring'), 0), Math.max(valueBytes, 1));
  const value = 'v'.repeat(valueBytes);
  const nowMs = Date.now();
  // Realistic magnitudes: client ids start at a random point below 2^47, replica ids count up, keys are up to 255.
  const clientId = 2 ** 46 + 123_456;
  const peerId = 1_234_567;
  const stamp = [nowMs, 3, 1] as const;
  const key = 200;
  const size = (m: Message) => codec.encode(m).length;
  return {
    clientWrite: size({ t: 'put', id: clientId, key, value, level: writeLevel, sentAtMs: nowMs, deadlineMs: nowMs + 2_000 }),
    clientRead: size({ t: 'get', id: clientId, key, level: readLevel, sentAtMs: nowMs, deadlineMs: nowMs + 2_000 }),
    replicaWrite: size({ t: 'rw', from: 1, gen: nowMs, id: peerId, key, value, stamp }),
    replicaRead: size({ t: 'rr', from: 1, gen: nowMs, id: peerId, key }),
    writeAck: size({ t: 'rw.ok', from: 2, id: peerId }),
    readAck: size({ t: 'rr.ok', from: 2, id: peerId, value, stamp }),
    writeReply: size({ t: 'put.ok', id: clientId, key, stamp, coordinator: coordinatorName }),
    readReply: size({ t: 'get.ok', id: clientId, key, value, stamp, coordinator: coordinatorName }),
  };
}

/** Bytes of a put's log record in ringkv's log (header included), for this value size. */
export function putRecordBytes(valueBytes: number): number {
  return encodeRecord({ t: 'w', key: 200, value: 'v'.repeat(valueBytes), stamp: [Date.now(), 3, 1] }).length;
}

export interface LimitLayout {
  coordinators: number;
  readLevel: Level;
  writeLevel: Level;
  sizes: MessageSizes;
  /** Replica processes a request fans out to: the cluster's replication factor (3 by default). */
  replicas: number;
  /** First port of the echo coordinators (at most 64); the replicas start at portBase + 80. */
  portBase: number;
  /** limit-durable: each echo replica's O_DSYNC log goes in this directory, records of this size. */
  log?: { dir: string; recordBytes: number };
}

export class NoResponseError extends Error {
  override name = 'NoResponseError';
}

interface Pending { resolve(): void; reject(e: Error): void; sentAtMs: number }

/** Starts the echo processes; returns the target that drives them. Stop it with close(). */
export async function startLimit(layout: LimitLayout): Promise<LimitTarget> {
  const acksWrite = acksFor(layout.writeLevel, layout.replicas);
  const acksRead = acksFor(layout.readLevel, layout.replicas);
  const replicaPorts = Array.from({ length: layout.replicas }, (_, i) => layout.portBase + 80 + i);
  const coordinatorPorts = Array.from({ length: layout.coordinators }, (_, i) => layout.portBase + i);
  const children: Child[] = [];
  const start = (name: string, spec: EchoSpec) => {
    const child = spawnTracked(name, process.execPath, ['--import', 'tsx', join(here, 'echo-node.ts'), JSON.stringify(spec)], { cwd: repoRoot });
    children.push(child);
    return waitForLine(child, /^ready /m, readyTimeoutMs);
  };
  try {
    const base = { host, replicaPorts, acks: { write: acksWrite, read: acksRead }, sizes: layout.sizes };
    await Promise.all([
      ...replicaPorts.map((port, i) => start(`echo replica-${i + 1}`, {
        ...base, role: 'replica', port, replicaPorts: [],
        ...(layout.log === undefined ? {} : { log: { path: join(layout.log.dir, `echo-replica-${i + 1}.log`), recordBytes: layout.log.recordBytes } }),
      })),
      ...coordinatorPorts.map((port, i) => start(`echo coordinator-${i + 1}`, { ...base, role: 'coordinator', port })),
    ]);
    const sockets = await Promise.all(coordinatorPorts.map(() => bindClientSocket()));
    return new LimitTarget(layout.log === undefined ? 'limit' : 'limit-durable', children, sockets, coordinatorPorts, layout.sizes);
  } catch (e) {
    await Promise.all(children.map((c) => c.stop()));
    throw e;
  }
}

export class LimitTarget implements Target {
  readonly lanes: readonly string[];
  private readonly pending: Map<number, Pending>[];
  private nextId = 0;
  private readonly sweeper: NodeJS.Timeout;
  private timedOut = 0;

  constructor(readonly name: string, private readonly children: Child[], private readonly sockets: Socket[], private readonly ports: number[], private readonly sizes: MessageSizes) {
    this.lanes = ports.map((_, i) => `echo coordinator-${i + 1}`);
    this.pending = sockets.map(() => new Map());
    sockets.forEach((s, lane) => s.on('message', (msg: Buffer) => this.receive(lane, msg)));
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
  }

  async processes(): Promise<WatchedProcess[]> {
    return this.children.map((c) => ({ name: c.name, pid: c.pid }));
  }

  read(lane: number, _key: number): Promise<void> {
    return this.request(lane, echoOp.clientRead, this.sizes.clientRead);
  }

  write(lane: number, _key: number, _value: string): Promise<void> {
    return this.request(lane, echoOp.clientWrite, this.sizes.clientWrite);
  }

  notes(): Record<string, unknown> {
    return { timedOut: this.timedOut, messageBytes: this.sizes };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const m of this.pending) {
      for (const p of m.values()) p.reject(new NoResponseError('closed'));
      m.clear();
    }
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await Promise.all(this.children.map((c) => c.stop()));
  }

  private request(lane: number, op: number, bytes: number): Promise<void> {
    const socket = this.sockets[lane]!;
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    const b = Buffer.allocUnsafe(bytes);
    b[0] = op;
    b.writeUInt32LE(id, 1);
    return new Promise<void>((resolve, reject) => {
      this.pending[lane]!.set(id, { resolve, reject, sentAtMs: performance.now() });
      socket.send(b, this.ports[lane]!, host);
    });
  }

  private receive(lane: number, msg: Buffer): void {
    if (msg.length < echoHeaderBytes) return;
    const id = msg.readUInt32LE(1);
    const m = this.pending[lane]!;
    const p = m.get(id);
    if (p === undefined) return;
    m.delete(id);
    p.resolve();
  }

  private sweep(): void {
    const oldest = performance.now() - requestDeadlineMs;
    for (const m of this.pending) {
      for (const [id, p] of m) {
        if (p.sentAtMs > oldest) continue;
        m.delete(id);
        this.timedOut++;
        p.reject(new NoResponseError(`no echo reply within ${requestDeadlineMs} ms`));
      }
    }
  }
}

function acksFor(level: Level, replicas: number): number {
  const r = requiredAcks(level, replicas);
  if (!r.ok) throw new Error(`limit baseline: ${r.reason}`);
  return r.acks;
}

function bindClientSocket(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => { socket.off('error', reject); resolve(socket); });
  });
}
