// --scenario floor: what one put at a time cannot go under on this machine, each part measured
// alone, one at a time, with nothing else running in these processes:
//  - a datagram round trip between two Node processes on 127.0.0.1 (a client and its coordinator,
//    or a coordinator and a replica), at the size of a put and its ack;
//  - one durable append of a put's log record to a file opened O_DSYNC, as the log does it (an
//    fs/promises write: a thread-pool trip) and as a synchronous write on the event loop.
// A QUORUM put needs two round trips (client-coordinator, coordinator-replica) and one durable
// write on the replica's side, so their sum is the floor of its latency. Two more parts show what
// that sum leaves out on one machine:
//  - the same O_DSYNC writes from three processes at once, each to its own file: the three replicas
//    of a key share this disk, and a QUORUM put waits for the second of them;
//  - one replica write's own codec work (decode the rw datagram, encode its log record, encode the
//    ack) back to back and after a 1 ms sleep each: what a process woken for one request pays.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Codec } from '../../src/io/codec.js';
import { newKeyringText, parseKeyring } from '../../src/io/keyring.js';
import { peerKeys } from '../../src/io/keys.js';
import { encodeRecord } from '../../src/core/log-record.js';
import type { Message } from '../../src/core/messages.js';

export interface FloorResult {
  roundTripUs: Quantiles;
  dsyncWriteUs: Quantiles;
  dsyncWriteSyncUs: Quantiles;
  /** Two round trips and one durable write (p50 each). */
  putFloorP50Us: number;
  /** One O_DSYNC write (writeSync) while two other processes write to the same disk. */
  sharedDiskWriteUs: Quantiles;
  /** A replica write's codec work, back to back and after a 1 ms sleep each. */
  codecWarmUs: Quantiles;
  codecAfterSleepUs: Quantiles;
  samples: number;
}
export interface Quantiles { p50: number; p99: number; mean: number }

const echoChild = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, '127.0.0.1', () => process.send(s.address().port));
process.on('disconnect', () => process.exit(0));
`;

function quantiles(us: number[]): Quantiles {
  const s = [...us].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), mean: Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 };
}

async function roundTrips(samples: number, bytes: number): Promise<number[]> {
  const child = spawn(process.execPath, ['-e', echoChild], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(p as number)));
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.connect(port, '127.0.0.1', resolve));
  const payload = Buffer.alloc(bytes, 7);
  const out: number[] = [];
  try {
    for (let i = 0; i < samples + 200; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => { sock.once('message', () => resolve()); sock.send(payload); });
      if (i >= 200) out.push((performance.now() - t0) * 1000);
    }
  } finally {
    sock.close();
    child.disconnect();
  }
  return out;
}

async function dsyncWrites(dir: string, samples: number, bytes: number): Promise<{ promises: number[]; sync: number[] }> {
  const record = Buffer.alloc(bytes, 1);
  const fh = await open(join(dir, 'floor-promises.log'), constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o600);
  const promises: number[] = [];
  try {
    for (let i = 0, off = 0; i < samples + 50; i++, off += bytes) {
      const t0 = performance.now();
      await fh.write(record, 0, bytes, off);
      if (i >= 50) promises.push((performance.now() - t0) * 1000);
    }
  } finally {
    await fh.close();
  }
  const fd = openSync(join(dir, 'floor-sync.log'), constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o600);
  const sync: number[] = [];
  try {
    for (let i = 0, off = 0; i < samples + 50; i++, off += bytes) {
      const t0 = performance.now();
      writeSync(fd, record, 0, bytes, off);
      if (i >= 50) sync.push((performance.now() - t0) * 1000);
    }
  } finally {
    closeSync(fd);
  }
  return { promises, sync };
}

const writerChild = `
const fs = require('node:fs');
process.once('message', ({ path, samples, bytes }) => {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DSYNC, 0o600);
  const record = Buffer.alloc(bytes, 1);
  const us = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    fs.writeSync(fd, record, 0, bytes, i * bytes);
    us.push((performance.now() - t0) * 1000);
  }
  fs.closeSync(fd);
  process.send(us, () => process.exit(0));
});
`;

/** `writers` processes, each its own file, writing O_DSYNC records at the same time; every write's µs. */
async function sharedDiskWrites(dir: string, writers: number, samples: number, bytes: number): Promise<number[]> {
  const children: ChildProcess[] = Array.from({ length: writers }, () => spawn(process.execPath, ['-e', writerChild], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  try {
    const results = children.map((c) => new Promise<number[]>((resolve, reject) => {
      c.once('message', (us) => resolve(us as number[]));
      c.once('exit', (code) => reject(new Error(`floor: a writer process exited with ${code} before reporting`)));
    }));
    children.forEach((c, i) => c.send({ path: join(dir, `floor-shared-${i}.log`), samples, bytes }));
    return (await Promise.all(results)).flat();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

/** Decoding a replica write's datagram, encoding its log record and its ack: back to back, then after a 1 ms sleep each. */
async function codecWork(samples: number, valueBytes: number): Promise<{ warm: number[]; afterSleep: number[] }> {
  const keyring = parseKeyring(newKeyringText(), 'a generated keyring');
  const codec = new Codec(peerKeys(keyring, 2), Math.max(valueBytes, 1));
  const peer = new Codec(peerKeys(keyring, 1), Math.max(valueBytes, 1));
  const nowMs = Date.now();
  // A fresh datagram for every decode (sealed outside the timing): the replay window refuses a copy.
  const datagrams = Array.from({ length: 4 * samples }, () =>
    peer.encode({ t: 'rw', from: 1, gen: nowMs, id: 1_234_567, key: 200, value: 'v'.repeat(valueBytes), stamp: [nowMs, 3, 1] }));
  let next = 0;
  const once = (): number => {
    const datagram = datagrams[next++]!;
    const t0 = performance.now();
    const decoded = codec.decodeMany(datagram);
    const msg = decoded.ok ? decoded.msgs[0] : undefined;
    if (msg?.t !== 'rw') throw new Error('floor: the rw datagram did not decode');
    encodeRecord({ t: 'w', key: msg.key, value: msg.value, stamp: msg.stamp });
    codec.encode({ t: 'rw.ok', from: 2, id: msg.id } satisfies Message);
    return (performance.now() - t0) * 1000;
  };
  for (let i = 0; i < 2 * samples; i++) once(); // compiled and hot
  const warm = Array.from({ length: samples }, once);
  const afterSleep: number[] = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((r) => setTimeout(r, 1));
    afterSleep.push(once());
  }
  return { warm, afterSleep };
}

/** datagramBytes: a put's datagram as the client sends it; recordBytes: its log record. */
export async function floorScenario(dir: string, o: { samples: number; datagramBytes: number; recordBytes: number; valueBytes: number }, log: (line: string) => void): Promise<FloorResult> {
  log(`floor: ${o.samples} datagram round trips of ${o.datagramBytes} bytes to another process on 127.0.0.1, one at a time`);
  const rtt = quantiles(await roundTrips(o.samples, o.datagramBytes));
  log(`floor: ${o.samples} O_DSYNC writes of ${o.recordBytes} bytes in ${dir}`);
  const w = await dsyncWrites(dir, o.samples, o.recordBytes);
  const dsync = quantiles(w.promises);
  log(`floor: ${o.samples} O_DSYNC writes of ${o.recordBytes} bytes in each of 3 processes at once`);
  const shared = quantiles(await sharedDiskWrites(dir, 3, o.samples, o.recordBytes));
  log(`floor: a replica write's codec work ${o.samples} times back to back, then ${o.samples} times after a 1 ms sleep`);
  const codec = await codecWork(o.samples, o.valueBytes);
  return {
    roundTripUs: rtt, dsyncWriteUs: dsync, dsyncWriteSyncUs: quantiles(w.sync), putFloorP50Us: Math.round(2 * rtt.p50 + dsync.p50),
    sharedDiskWriteUs: shared, codecWarmUs: quantiles(codec.warm), codecAfterSleepUs: quantiles(codec.afterSleep), samples: o.samples,
  };
}
