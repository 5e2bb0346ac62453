// --scenario floor: what one put at a time cannot go under on this machine, each part measured
// alone, one at a time, with nothing else running in these processes:
//  - a datagram round trip between two Node processes on 127.0.0.1 (a client and its coordinator,
//    or a coordinator and a replica), at the size of a put and its ack;
//  - one durable append of a put's log record to a file opened O_DSYNC, as the log does it (an
//    fs/promises write: a thread-pool trip) and as a synchronous write on the event loop.
// A QUORUM put needs two round trips (client-coordinator, coordinator-replica) and one durable
// write on the replica's side, so their sum is the floor of its latency.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface FloorResult {
  roundTripUs: Quantiles;
  dsyncWriteUs: Quantiles;
  dsyncWriteSyncUs: Quantiles;
  /** Two round trips and one durable write (p50 each). */
  putFloorP50Us: number;
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

/** datagramBytes: a put's datagram as the client sends it; recordBytes: its log record. */
export async function floorScenario(dir: string, o: { samples: number; datagramBytes: number; recordBytes: number }, log: (line: string) => void): Promise<FloorResult> {
  log(`floor: ${o.samples} datagram round trips of ${o.datagramBytes} bytes to another process on 127.0.0.1, one at a time`);
  const rtt = quantiles(await roundTrips(o.samples, o.datagramBytes));
  log(`floor: ${o.samples} O_DSYNC writes of ${o.recordBytes} bytes in ${dir}`);
  const w = await dsyncWrites(dir, o.samples, o.recordBytes);
  const dsync = quantiles(w.promises);
  return { roundTripUs: rtt, dsyncWriteUs: dsync, dsyncWriteSyncUs: quantiles(w.sync), putFloorP50Us: Math.round(2 * rtt.p50 + dsync.p50), samples: o.samples };
}
