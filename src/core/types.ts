// The vocabulary shared by every module of the core.

/**
 * A key: an integer 0..255 under the byte-ordered partitioner (the default), UTF-8 text of
 * 1..key_bytes_max bytes under the hashed one. What a key is, and its slot, is keyspace.ts's.
 */
export type Key = number | string;

/** Index of a replica in nodes.toml order (0-based). Names are for people; indexes are for the wire. */
export type NodeIndex = number;

/**
 * A hybrid logical clock stamp: wall milliseconds, logical counter, index of the node that made it.
 * Compared in that order (see hlc.compareStamps); two writes never share a stamp.
 */
export type Stamp = readonly [wallMs: number, counter: number, node: NodeIndex];

/** What a version holds: a value, or null for a tombstone (the key was deleted at that stamp). */
export type StoredValue = string | null;

/**
 * A stored version of a key. A delete is a version too: a tombstone (value null) with the
 * coordinator's stamp, so it wins over every older value wherever it travels, exactly as a put does.
 */
export interface Versioned {
  readonly value: StoredValue;
  readonly stamp: Stamp;
}

export const levels = ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL'] as const;
/** A consistency level: how many replicas must answer before the coordinator does. */
export type Level = (typeof levels)[number];

export const repairModes = ['hinted-handoff', 'read-repair', 'both'] as const;
/** Which anti-entropy mechanisms a node runs. */
export type RepairMode = (typeof repairModes)[number];

/** The errors a client can be answered with. */
/** Forbidden: the request's credential is revoked, or its role does not allow the request (core/authorization.ts). */
/** ClockSkew: the request was dated expired or in the future by the coordinator's clock (FailReply.dated, .clockMs). */
export const clientErrors = ['Unavailable', 'Timeout', 'Overloaded', 'InvalidRequest', 'Forbidden', 'ClockSkew'] as const;
export type ClientError = (typeof clientErrors)[number];

/** "host:port" of a UDP endpoint. */
export type Address = string;

export interface NodeSpec {
  readonly name: string;
  /** Where peers and clients send to: an IPv4 address (a hostname in nodes.toml is resolved at start, see io/resolve). */
  readonly host: string;
  readonly port: number;
  /** TCP port for Prometheus text over HTTP (metrics_port); absent: none. */
  readonly metricsPort?: number;
  /** The address this replica binds, when it differs from host (0.0.0.0, a private address behind NAT). */
  readonly listen?: string;
}

/** Everything a node needs to know about its cluster, already validated (see io/config). */
export interface ClusterConfig {
  readonly nodes: readonly NodeSpec[];
  /** How keys map onto the ring's slots (keyspace.ts); absent: 'byte-ordered', keys 0..255. */
  readonly partitioner?: 'byte-ordered' | 'hashed';
  /** hashed keys: the longest key in UTF-8 bytes; absent: keyBytesMaxDefault (256). */
  readonly keyBytesMax?: number;
  readonly replicationFactor: number;
  readonly repairMode: RepairMode;
  /** Blocking read repair (Cassandra 4): a read above ONE repairs the replicas it read before answering. */
  readonly readRepairBlocking: boolean;
  readonly gossipIntervalMs: number;
  readonly downAfterMs: number;
  readonly writeTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxHintWindowMs: number;
  readonly hintSweepIntervalMs: number;
  /** How often a replica compares what it holds with each peer it shares keys with; 0 turns it off. */
  readonly antiEntropyIntervalMs: number;
  readonly valueBytesMax: number;
  /**
   * How far apart two clocks of the cluster (replicas and clients) may be, in ms: a client request
   * sent further in a coordinator's future, and a stamp or heartbeat further ahead of this node's
   * wall clock, are refused (CockroachDB's max-offset).
   */
  readonly maxClockSkewMs: number;
  readonly dataDir: string;
  readonly cookieFile: string;
  /** trace_probability: the share of client requests a coordinator traces unasked (0..1; absent: 0). */
  readonly traceProbability?: number;
  /** slow_request_ms: requests at least this slow are logged and kept for `state` (absent or 0: off). */
  readonly slowRequestMs?: number;
}

export function addressOf(spec: NodeSpec): Address {
  return `${spec.host}:${spec.port}`;
}
