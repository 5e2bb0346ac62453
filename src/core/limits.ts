// Every bound in ringkv, in one place, named with its unit last.
// A request past a bound gets a clear error; nothing here is ever exceeded silently.

/** Keys are the integers keyMin..keyMax (a ByteOrdered ring of one byte). */
export const keyMin = 0;
export const keyMax = 255;
export const keyCount = keyMax - keyMin + 1;
/**
 * The ring's slots: the unit of placement, movement and anti-entropy, whatever the partitioner
 * (byte-ordered: a key is its slot; hashed: many keys share one, see keyspace.ts).
 */
export const slotCount = 256;
/** The longest key_bytes_max a config may set (hashed keys): a key and a value at the ceiling still fit one datagram's envelope. */
export const keyBytesMaxCeiling = 1_024;
/** Entries one message may list under the hashed partitioner (a hint batch, a pull, a digest reply): more than the smallest entries that fit one datagram. */
export const versionsPerMessageMax = 8_192;
/** Versions one replica may hold under the hashed partitioner (tombstones included): what one snapshot may list. */
export const hashedKeysPerReplicaMax = 16_777_216;
/** Hints a coordinator holds for one target under the hashed partitioner; past it a missed write is left to anti-entropy, and counted. */
export const hashedHintsPerTargetMax = 100_000;

/** One UDP datagram carries one message; stay well under the 65,507-byte IPv4 payload limit. */
export const datagramBytesMax = 65_000;
/** Room for the message envelope, the seal's header and tag and a replica's name around one value. */
export const envelopeBytesMax = 5_000;
/** The largest value (UTF-8 bytes) any configuration may allow: the largest message still fits one datagram. */
export const valueBytesMaxCeiling = datagramBytesMax - envelopeBytesMax;

/** Cluster size and replication factor. */
export const nodesMax = 64;
export const nodeNameBytesMax = 64;

/** Client requests a coordinator holds open at once; past it the answer is Overloaded. */
export const clientRequestsInFlightMax = 4_096;
/** Replica-to-replica requests a node holds open at once (fan-out, hint batches, repairs). */
export const peerRequestsInFlightMax = 32_768;
/** Remembered (sender, id) -> reply pairs, so a retransmitted request is answered, never run twice. */
export const dedupEntriesMax = 65_536;
/**
 * The longest a client request may live: its deadline at most this long after its sent time. A
 * coordinator keeps each answered put (up to dedupEntriesMax of them) until that put's own deadline,
 * so a replayed datagram is answered from the cache until then and refused as expired after; this
 * bound is what keeps that cache finite in time. A request asking for more is refused as
 * InvalidRequest. At the measured ~12,000 puts/s, the default client deadline (write timeout
 * + 1 s, about 2 s) keeps some 24,000 answers: under dedupEntriesMax. Past it the answer is Overloaded.
 */
export const clientDeadlineMsMax = 60_000;
/**
 * A client's default deadline is the coordinator's timeout plus this (deadlineSlackMs in
 * src/client/client.ts, the same value), so its Timeout answer can still arrive; nodes.toml's
 * timeouts are checked to fit clientDeadlineMsMax with it.
 */
export const clientDeadlineSlackMs = 1_000;
/** Retransmissions of one request before it is given up (its deadline usually comes first). */
export const retriesMax = 12;
/**
 * Retransmission timeout to a peer: measured round trip plus four deviations (as TCP does), never
 * below retryMinMs; retryFirstMs until a round trip is measured; doubling per attempt up to the ceiling.
 */
export const retryFirstMs = 100;
export const retryMinMs = 20;
export const retryCeilingMs = 1_000;

/** Hints: at most one per (target, key), so a target never needs more than keyCount. */
export const hintsPerTargetMax = keyCount;
/** Bytes of one hint batch (values plus a per-entry allowance for key and stamp), so it fits one datagram. */
export const hintBatchBytesMax = datagramBytesMax - envelopeBytesMax;
/** CBOR bytes of one [key, value, stamp] hint entry besides its value (generous). */
export const hintEntryOverheadBytes = 48;
/** Hint batches to one target in flight at once. */
export const hintBatchesInFlightPerTargetMax = 4;

/**
 * Anti-entropy compares (key, stamp) digests per block of this many consecutive keys, then the
 * stamps of the differing blocks only: 16 blocks of 16 keys, so replicas that agree exchange one
 * small datagram each way per peer per round.
 */
export const antiEntropyBlockKeys = 16;
export const antiEntropyBlockCount = keyCount / antiEntropyBlockKeys;
/** Anti-entropy rounds (one per peer) a node runs at once, periodic and `kvc repair` together. */
export const antiEntropyRoundsInFlightMax = 4 * nodesMax;
/** `kvc repair` requests a node holds open at once; past it the answer is Overloaded. */
export const repairRequestsInFlightMax = 8;
/** Longest accepted anti_entropy_interval_ms (a day); 0 turns anti-entropy off. */
export const antiEntropyIntervalMsMax = 86_400_000;

/** Log records written since the last snapshot before the node asks for a new snapshot. */
export const recordsPerSnapshotMin = 10_000;

/**
 * While the disk is full: how often a node appends again the writes, hints and hint deliveries it
 * could not log (the newest per key, and per target and key: at most keyCount * (1 + 2 * nodesMax) records).
 */
export const logFullRetryIntervalMs = 1_000;

/** Operator log lines about dropped datagrams: at most one per interval. */
export const dropLogIntervalMs = 5_000;
/** Operator log lines about hints stored for one target: one per hint, then at most one summary per interval. */
export const hintLogIntervalMs = 1_000;

/** Request and reply ids are unsigned integers up to this (safe in a JS number and in CBOR). */
export const messageIdMax = Number.MAX_SAFE_INTEGER;

/** Payload bytes of one log record; a longer length field is read as damage. A snapshot of every key at the largest value is about 16 MB. */
export const recordBytesMax = 64 * 1024 * 1024;

/** Characters of a config digest in heartbeats and status (hex of a SHA-256 prefix; see config-digest.ts). */
export const configDigestCharsMax = 64;
/** Operator log lines about one peer's clock, config or cookie: at most one per peer and kind per interval. */
export const peerProblemLogIntervalMs = 60_000;
/** A peer's forged datagrams or bad-cookie notice count in status for this long after the last one. */
export const cookieProblemShownMs = 10_000;
/** Versions the replay keeps out of the store (beyond the clock bound) that status and the start line name. */
export const quarantinedKeysListedMax = 16;

/**
 * Tracing: events one trace keeps and their encoded bytes (the coordinator's and every replica's;
 * past either one `truncated` event counts the rest, and the decision is always kept), the bytes of
 * the largest event, events one replica's reply carries, and the bytes of an event's text. So a
 * get's answer with the largest value and its trace still fits one datagram (test/unit/trace.spec.ts).
 */
export const traceEventsMax = 40;
export const traceBytesMax = 4_000;
export const traceEventBytesMax = 400;
export const traceReplicaEventsMax = 6;
export const traceNoteBytesMax = 160;
/** Slow requests (slow_request_ms) a node keeps for `state`, newest last, and the log lines about them per second. */
export const slowRequestsKeptMax = 16;
export const slowRequestLinesPerSecondMax = 10;
/** Traces trace_probability sampled that a node keeps for `state`, newest last. */
export const sampledTracesKeptMax = 16;
/**
 * Datagram counters one sender session's replay window spans (RFC 6479; WireGuard's 8192): a
 * sender's counter is shared by everything it sends under one key, so this is also how far a
 * datagram may be overtaken by the sender's later ones (to any destination) and still be accepted.
 */
export const replayWindowCounters = 8_192;
/** Peer keys one keyring holds at once (rotation installs a new one beside the one in use). */
export const keyringKeysMax = 8;
/** Sender sessions (with their replay windows and traffic keys) a process remembers, least recently heard first out. */
export const sealSessionsMax = 2_048;
/** A sender never seals more datagrams than this under one session (the counter is a JS integer); it would start a new session first. */
export const sealCounterMax = Number.MAX_SAFE_INTEGER;
/** `kvc dashboard`: pages streaming snapshots at once; one more is refused with 503. */
export const dashboardStreamsMax = 32;
/** `kvc dashboard`: polls of history kept for the plots (10 min at one a second). */
export const dashboardHistoryPoints = 600;
/**
 * Answers to requests refused as expired or future-dated by this replica's clock (fail ClockSkew,
 * see notice-limiter.ts): at most one a second per client address and this many a second in all,
 * so a flood of stale or replayed datagrams (whose source address may be forged) cannot turn a
 * replica into an amplifier. Past either the refusal is counted (`expired-limited`,
 * `clock-skew-limited`) and not answered.
 */
export const clockNoticesPerAddressPerS = 1;
export const clockNoticesPerS = 16;
/** Client addresses whose notice budget is not yet refilled, at most; past it a new address gets no notice until some refill. */
export const clockNoticeAddressesMax = 1_024;
