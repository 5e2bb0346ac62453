// One process of the `--baseline limit` layout: a bare UDP coordinator or replica with no logic, no
// codec and no log, sending datagrams of the same sizes as ringkv's messages. A coordinator fans a
// client request out to its replicas and answers after as many acks as the level needs; a replica
// acks at once (or, with a log, after the turn's records are durable, as ringkv's group commit).
// What is left is what Node and this machine cost for ringkv's message pattern.
//   node --import tsx tools/bench/echo-node.ts '<EchoSpec as JSON>'
import { createSocket, type RemoteInfo } from 'node:dgram';
import { constants, openSync, writeSync } from 'node:fs';
import { echoOp, echoHeaderBytes, type EchoSpec } from './echo-protocol.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as EchoSpec;
/** Same kernel buffers as ringkv's replicas (src/io/udp.ts). */
const socketBufferBytes = 4 * 1024 * 1024;
/** Fan-outs whose acks never all came are forgotten after one to two of these. */
const forgetAfterMs = 2_000;

const socket = createSocket({ type: 'udp4', recvBufferSize: socketBufferBytes, sendBufferSize: socketBufferBytes });
socket.on('error', (e) => { process.stderr.write(`echo ${spec.role}: ${e.message}\n`); });

function datagram(op: number, id: number, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  b[0] = op;
  b.writeUInt32LE(id, 1);
  return b;
}

if (spec.role === 'replica') {
  const ackWrite = spec.log === undefined ? sendAck : durableAcks(spec.log);
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (msg.length < echoHeaderBytes) return;
    const op = msg[0];
    const id = msg.readUInt32LE(1);
    if (op === echoOp.replicaWrite) ackWrite(id, from);
    else if (op === echoOp.replicaRead) socket.send(datagram(echoOp.readAck, id, spec.sizes.readAck), from.port, from.address);
  });
} else {
  interface FanOut { port: number; address: string; clientId: number; read: boolean; need: number; got: number }
  let current = new Map<number, FanOut>();
  let previous = new Map<number, FanOut>();
  setInterval(() => { previous = current; current = new Map(); }, forgetAfterMs).unref();
  let nextId = 0;
  const total = spec.replicaPorts.length;
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (msg.length < echoHeaderBytes) return;
    const op = msg[0];
    const id = msg.readUInt32LE(1);
    if (op === echoOp.clientWrite || op === echoOp.clientRead) {
      const read = op === echoOp.clientRead;
      nextId = (nextId + 1) >>> 0;
      current.set(nextId, { port: from.port, address: from.address, clientId: id, read, need: read ? spec.acks.read : spec.acks.write, got: 0 });
      for (const port of spec.replicaPorts) {
        socket.send(datagram(read ? echoOp.replicaRead : echoOp.replicaWrite, nextId, read ? spec.sizes.replicaRead : spec.sizes.replicaWrite), port, spec.host);
      }
    } else if (op === echoOp.writeAck || op === echoOp.readAck) {
      let map = current;
      let f = map.get(id);
      if (f === undefined) { map = previous; f = map.get(id); }
      if (f === undefined) return;
      f.got++;
      if (f.got === f.need) {
        socket.send(datagram(f.read ? echoOp.readReply : echoOp.writeReply, f.clientId, f.read ? spec.sizes.readReply : spec.sizes.writeReply), f.port, f.address);
      }
      if (f.got >= total) map.delete(id);
    }
  });
}

function sendAck(id: number, to: RemoteInfo): void {
  socket.send(datagram(echoOp.writeAck, id, spec.sizes.writeAck), to.port, to.address);
}

/** Acks held until the end of the turn, when one O_DSYNC write makes all the turn's records durable. */
function durableAcks(log: { path: string; recordBytes: number }): (id: number, to: RemoteInfo) => void {
  const fd = openSync(log.path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC, 0o600);
  let held: { id: number; to: RemoteInfo }[] = [];
  let position = 0;
  const commit = () => {
    const acks = held;
    held = [];
    const records = Buffer.alloc(acks.length * log.recordBytes, 1);
    for (let written = 0; written < records.length;) written += writeSync(fd, records, written, records.length - written, position + written);
    position += records.length;
    for (const a of acks) sendAck(a.id, a.to);
  };
  return (id, to) => {
    held.push({ id, to });
    if (held.length === 1) setImmediate(commit);
  };
}

socket.bind(spec.port, spec.host, () => {
  process.stdout.write(`ready ${spec.role} ${spec.host}:${spec.port}\n`);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
process.on('SIGINT', () => socket.close(() => process.exit(0)));
