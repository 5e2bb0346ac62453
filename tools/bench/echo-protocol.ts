// The bare protocol of the limit baseline: [op u8][id u32 LE] then filler up to the size of the
// ringkv message it stands for.
export const echoHeaderBytes = 5;

export const echoOp = {
  clientWrite: 1, clientRead: 2, replicaWrite: 3, replicaRead: 4, writeAck: 5, readAck: 6, writeReply: 7, readReply: 8,
} as const;

/** Bytes of each ringkv datagram the echo processes imitate (HMAC tag included). */
export interface MessageSizes {
  /** client -> coordinator: put, get */
  clientWrite: number;
  clientRead: number;
  /** coordinator -> replica: rw, rr */
  replicaWrite: number;
  replicaRead: number;
  /** replica -> coordinator: rw.ok, rr.ok */
  writeAck: number;
  readAck: number;
  /** coordinator -> client: put.ok, get.ok */
  writeReply: number;
  readReply: number;
}

export interface EchoSpec {
  role: 'coordinator' | 'replica';
  host: string;
  port: number;
  /** Coordinator only: where its replicas listen. */
  replicaPorts: number[];
  /** Coordinator only: acks before it answers. */
  acks: { write: number; read: number };
  sizes: MessageSizes;
  /**
   * Replica only, `--baseline limit-durable`: the log ringkv cannot skip. Every replica write's
   * record (recordBytes, a put's record as ringkv's log encodes it) is appended to this file, opened
   * O_DSYNC, and the acks of an event-loop turn leave after one write of all its records: ringkv's
   * group commit with no codec, no state and no checks.
   */
  log?: { path: string; recordBytes: number };
}
