// Drives one Node against the real world: datagrams and ticks in, effects out. It keeps etcd's rule
// through the Outbox: a step's sends that follow its appends leave only once those appends are
// fsynced. Group commit: one fsync at a time, at the end of an event-loop turn, for everything the
// turn appended; whatever is appended while one runs on the thread pool shares the next.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Effect, Input, LogEvent } from '../core/effects.js';
import { isClientReply, isClientRequest, type ClientReply, type ClientSetRequest, type KeyringRequest, type Message } from '../core/messages.js';
import { dropLogIntervalMs } from '../core/limits.js';
import { encodeRecord, type LogRecord } from '../core/log-record.js';
import { Node } from '../core/node.js';
import { count } from '../core/text.js';
import { Outbox, type Outgoing } from '../core/outbox.js';
import { refusal, type Principal } from '../core/authorization.js';
import type { Address, ClusterConfig, NodeSpec, RepairMode } from '../core/types.js';
import { Codec } from './codec.js';
import { ClientRegistry } from './client-registry.js';
import { credentialsPath, writeBootstrapCredential } from './credentials.js';
import { applyKeyringChange, keyringPath, loadKeyring, saveKeyring, type Keyring } from './keyring.js';
import { replicaKeys, type ReplicaKeys } from './keys.js';
import type { Origin, SealKey } from './seal.js';
import { ConfigError, loadConfig, nodeIndexByName } from './config.js';
import { keySpaceOf } from '../core/keyspace.js';
import { badCookieNotice, isBadCookieNotice, NoticeLimiter } from './cookie-notice.js';
import { nextGeneration, recordCleanStop } from './generation.js';
import { LogFullError, openLog, type LogFile } from './log-file.js';
import { ReplicaMetrics, stateFigures, type MetricsSnapshot } from './metrics.js';
import { resolveHosts } from './resolve.js';
import { UdpEndpoint } from './udp.js';

/** How often the node hears time pass (retransmits, heartbeats, deadlines, hint sweeps). */
export const tickIntervalMs = 5;
/**
 * A durable write on the event loop that took longer than this (a slow or stalled disk) sends the
 * next ones to the thread pool for slowSyncBackoffMs, so reads and heartbeats go on meanwhile
 * instead of waiting behind the disk (peers would see a replica silent for down_after_ms as DOWN).
 */
const syncOnLoopMsMax = 20;
const slowSyncBackoffMs = 1_000;
/** Client addresses whose credential the runtime remembers, to seal their replies under it. */
const clientAddressesMax = 65_536;
/** At stop: fsync rounds to run while the node keeps appending in answer to the previous one. */
const stopSyncRoundsMax = 8;

export interface ReplicaOptions {
  configPath: string;
  name: string;
  /** Overrides nodes.toml's repair_mode for this replica. */
  repairMode?: RepairMode;
  /** Default: <config data_dir>/<name>. */
  dataDir?: string;
  /** Default: createLogger(name), one readable line per event on stdout. */
  logger?: Logger;
  /**
   * The log can no longer be written (write or fdatasync failed): nothing more will be acked.
   * kvd exits so pm2 restarts it and it replays; the default only logs it.
   */
  onFatal?: (error: Error) => void;
}

export interface Replica {
  node: Node;
  /** host:port the replica listens on. */
  address: Address;
  dataDir: string;
  /** This replica as nodes.toml describes it. */
  spec: NodeSpec;
  /**
   * Resolves once every write sent is served: at once for a fresh data dir, after the wait-out for
   * a restarted one (core/restart-wait.ts). Reads are served from the start; kvd tells pm2
   * 'ready' only when this resolves.
   */
  writesServed: Promise<void>;
  /** Requests, latency, errors and gauges now (for pm2's metrics and Prometheus). */
  metrics(): MetricsSnapshot;
  stop(): Promise<void>;
}

/** Loads the config, the keyring and the client registry, binds the port, replays the log and starts serving. */
export async function startReplica(opts: ReplicaOptions): Promise<Replica> {
  const config = await resolveHosts(loadConfig(opts.configPath));
  const self = nodeIndexByName(config, opts.name);
  const spec = config.nodes[self]!;
  const logger = opts.logger ?? createLogger(spec.name);
  const dataDir = opts.dataDir ?? join(config.dataDir, spec.name);
  const keyring = clusterKeyring(config, dataDir, spec.name, logger);
  const clients = ClientRegistry.load(dataDir, keyring.clientRoot);
  const keys = replicaKeys(keyring, clients, self);
  const codec = new Codec(keys, config.valueBytesMax, keySpaceOf(config));

  // Bind first: the port doubles as a lock, so a second kvd of this replica fails here, before it
  // could touch the log the first one is writing. Datagrams before start are ignored (senders retry).
  let runtime: Runtime | null = null;
  let udp: UdpEndpoint;
  try {
    udp = await UdpEndpoint.bind(spec.listen ?? spec.host, spec.port, (bytes, from) => runtime?.receive(bytes, from), (e, to) => runtime?.sendFailed(e, to));
  } catch (e) {
    throw new Error(`${spec.name}: cannot listen on ${spec.listen ?? spec.host}:${spec.port}: ${e instanceof Error ? e.message : String(e)}`);
  }

  let opened: Awaited<ReturnType<typeof openLog>>;
  try {
    opened = await openLog(dataDir);
  } catch (e) {
    await udp.close();
    throw new Error(`${spec.name}: cannot open the log in ${dataDir}: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const problem of opened.problems) logger.warn({ event: 'log-damaged' }, `log ${dataDir}: ${problem}`);
  const nowMs = Date.now();
  const { generation, previous, previousStoppedAtMs } = await nextGeneration(dataDir, nowMs);
  const node = new Node({
    config, self, generation, restarted: previous !== null, ...(previousStoppedAtMs === null ? {} : { previousStoppedAtMs }),
    random: Math.random, repairMode: opts.repairMode, nowMs,
  });
  try {
    for (const record of opened.records) node.replay(record);
  } catch (e) {
    // Data of another key space (KeySpaceMismatchError), a ring nodes.toml cannot address (RingPeersError):
    // nothing was served, nothing is changed.
    await opened.log.close();
    await udp.close();
    throw e;
  }
  node.replayTruncated(opened.truncatedBytes);
  logger.info({ event: 'log-replayed' },
    `log ${dataDir}: replayed ${count(opened.records.length, 'record')} (${count(opened.log.sizeBytes, 'byte')}) in ${opened.replayMs.toFixed(1)} ms` +
    `${opened.truncatedBytes > 0 ? `; dropped ${opened.truncatedBytes} damaged bytes` : ''}`);

  const metrics = new ReplicaMetrics(Date.now());
  let servingWrites = () => {};
  const writesServed = new Promise<void>((resolve) => { servingWrites = resolve; });
    const started = new Runtime(node, codec, keys, clients, { ring: keyring, path: keyringPath(config) }, opened.log, logger, opts.onFatal ?? (() => {}), metrics, () => servingWrites(), dataDir);
  runtime = started;
  started.start(udp);
  const snapshot = () => {
    metrics.fromStatus(node.status());
    return metrics.snapshot(Date.now());
  };
  return { node, address: udp.address, dataDir, spec, writesServed, metrics: snapshot, stop: () => started.stop() };
}

/**
 * The cluster's peer keyring. Only a replica with an empty data dir may make it (the first start of a
 * new cluster), and the one that does also writes the admin credential for the local user beside it:
 * a replica that already holds data belongs to a cluster whose keyring exists somewhere, and a new
 * one would cut it off from its peers in silence (they refuse its datagrams as unknown-key).
 */
function clusterKeyring(config: ClusterConfig, dataDir: string, name: string, logger: Logger): Keyring {
  const path = keyringPath(config);
  const holdsData = entriesOf(dataDir).length > 0;
  const { keyring, created } = loadKeyring(path, { mayCreate: !holdsData });
  if (keyring === null) {
    throw new ConfigError(`${name}: no keyring at ${path}, but ${dataDir} already holds data: copy the cluster's keyring `
      + `there (the same file every replica reads) rather than let this replica make a new one that its peers would refuse`);
  }
  if (created) {
    const credentials = credentialsPath(config);
    if (!writeBootstrapCredential(credentials, keyring.clientRoot)) {
      logger.warn({ event: 'keyring-created' }, `${credentials} is there already, from before this new keyring: it opens nothing here; remove it and restart, or issue a credential`);
    }
    logger.info({ event: 'keyring-created' }, `made a new peer keyring at ${path} (mode 0600; every replica of this cluster needs this file, and no client) `
      + `and the admin's credential at ${credentials} (what kvc uses by default)`);
  }
  return keyring;
}

function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * One line per event: `<time> INFO replica-2 peer-up: peer replica-3 UP`. The time is left out under
 * pm2 (its `time` option stamps every line already). KV_LOG_LEVEL=debug also shows why each datagram was dropped.
 */
export function createLogger(name: string, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const stamped = process.env.pm_id === undefined;
  const wanted = process.env.KV_LOG_LEVEL ?? 'info';
  const level = wanted === 'silent' || Object.hasOwn(pino.levels.values, wanted) ? wanted : 'info';
  return pino({ base: { node: name }, level, timestamp: pino.stdTimeFunctions.isoTime }, {
    write(json: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(json) as Record<string, unknown>;
      } catch {
        write(json);
        return;
      }
      const level = (pino.levels.labels[Number(o.level)] ?? String(o.level)).toUpperCase().padEnd(5);
      const event = typeof o.event === 'string' ? `${o.event}: ` : '';
      const err = o.err as { stack?: string } | undefined;
      write(`${stamped ? `${String(o.time)} ` : ''}${level} ${String(o.node)} ${event}${String(o.msg)}${err?.stack ? `\n${err.stack}` : ''}\n`);
    },
  });
}

class Runtime {
  private readonly outbox = new Outbox();
  private udp: UdpEndpoint | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** The fsync in flight; appends made meanwhile wait for the next one. */
  private syncing: Promise<void> | null = null;
  /** An end-of-turn sync is scheduled (scheduleSync). */
  private syncScheduled = false;
  /** Until then (performance.now() ms) syncs go to the thread pool: one on the event loop was slow. */
  private syncOnPoolUntilMs = 0;
  private stopping: Promise<void> | null = null;
  private failed = false;
  private sendFailures = 0;
  private lastSendFailureLogMs = -Infinity;
  /** What this event-loop turn sends, per destination: sent together at its end, few datagrams each. */
  private readonly outgoing = new Map<Address, Message[]>();
  private flushScheduled = false;
  private readonly notices = new NoticeLimiter();
  /** The credential each client address last sent under: its replies are sealed under it (least recently heard first out). */
  private readonly clientKeys = new Map<Address, SealKey>();
  /** log.recordsWritten as of the last log write reported to the metrics. */
  private recordsReported = 0;

  constructor(
    private readonly node: Node,
    private readonly codec: Codec,
    private readonly keys: ReplicaKeys,
    private readonly clients: ClientRegistry,
    private readonly keyring: { ring: Keyring; path: string },
    private readonly log: LogFile,
    private readonly logger: Logger,
    private readonly onFatal: (error: Error) => void,
    private readonly metrics: ReplicaMetrics,
    /** Every write sent from now on is served (the node's 'serving' effect). */
    private readonly onServing: () => void,
    /** Where a clean stop is recorded (io/generation.ts). */
    private readonly dataDir: string,
  ) {}

  start(udp: UdpEndpoint): void {
    this.udp = udp;
    const { recv, send } = udp.bufferBytes;
    this.logger.info({ event: 'listening' }, `listening on ${udp.address} (socket buffers: receive ${recv} bytes, send ${send} bytes)`);
    this.step({ kind: 'start' });
    this.ticker = setInterval(() => this.step({ kind: 'tick' }), tickIntervalMs);
    this.ticker.unref();
  }

  receive(bytes: Buffer, from: Address): void {
    if (this.stopping !== null) return;
    const startedMs = performance.now();
    this.handle(bytes, from);
    this.metrics.datagramHandled(performance.now() - startedMs);
  }

  private handle(bytes: Buffer, from: Address): void {
    if (isBadCookieNotice(bytes)) return this.step({ kind: 'cookie-notice', from });
    const decoded = this.codec.decodeMany(bytes);
    if (!decoded.ok) {
      if ((decoded.error === 'forged' || decoded.error === 'unknown-key') && this.notices.allow(from, Date.now())) this.udp?.send(from, badCookieNotice);
      return this.drop(from, decoded.error, decoded.detail);
    }
    const sender = this.principal(decoded.origin);
    if (sender === null) return this.drop(from, 'unknown-key', 'a credential revoked meanwhile');
    if (sender.kind === 'client') this.heardClient(from, decoded.origin.keyId);
    // The node checks that the sender may send each message (core/authorization.ts), and that a
    // replica's message comes from that replica's address ('spoofed').
    for (const msg of decoded.msgs) {
      if (msg.t === 'client.set' && refusal(msg, sender) === null) {
        this.setClient(from, msg);
        continue;
      }
      if (msg.t === 'keyring' && refusal(msg, sender) === null) {
        this.changeKeyring(from, msg);
        continue;
      }
      if (isClientRequest(msg)) this.metrics.requestIn(from, msg, Date.now());
      this.step({ kind: 'message', from, msg, sender });
    }
    for (const reason of decoded.invalid) this.drop(from, 'invalid', reason);
  }

  /** Who the datagram's key proves sent it: a replica, or a client with the role the registry gives it. */
  private principal(origin: Origin): Principal | null {
    if (origin.cls === 'peer') return { kind: 'peer', node: origin.sender };
    const c = this.clients.lookup(origin.keyId);
    return c === null ? null : { kind: 'client', id: c.client, role: c.revoked ? null : c.role };
  }

  /** An admin issues or revokes a credential: durable here before the answer leaves. */
  private setClient(from: Address, req: ClientSetRequest): void {
    let reply: ClientReply;
    try {
      const r = this.clients.apply(req);
      reply = r.ok
        ? { t: 'client.ok', id: req.id, client: req.client, number: r.entry.number ?? req.number, key: r.key?.toString('hex') ?? null, node: this.node.name }
        : { t: 'fail', id: req.id, error: 'InvalidRequest', message: `InvalidRequest: ${r.reason}` };
      if (r.ok && r.changed) this.logger.info({ event: 'client-set' }, `client ${JSON.stringify(req.client)} ${r.entry.revoked ? 'revoked' : `issued (number ${r.entry.number}, role ${r.entry.role})`}`);
    } catch (e) {
      reply = { t: 'fail', id: req.id, error: 'Unavailable', message: `Unavailable: ${this.node.name} could not store the change: ${errorText(e)}` };
    }
    this.send([{ kind: 'reply', to: from, msg: reply }]);
  }

  /** An admin's rotation step: applied, durable in the keyring file, then answered with the keys as they stand. */
  private changeKeyring(from: Address, req: KeyringRequest): void {
    const { ring, path } = this.keyring;
    let reply: ClientReply;
    try {
      const r = applyKeyringChange(ring, req);
      if (r.ok && r.changed) {
        saveKeyring(path, ring);
        this.logger.info({ event: 'keyring' }, `keyring ${req.op} ${req.keyId}: keys ${[...ring.keys.keys()].join(', ')}, sealing with ${ring.use}`);
      }
      reply = r.ok
        ? { t: 'keyring.ok', id: req.id, node: this.node.name, keys: [...ring.keys.keys()], use: ring.use }
        : { t: 'fail', id: req.id, error: 'InvalidRequest', message: `InvalidRequest: ${this.node.name}: ${r.reason}` };
    } catch (e) {
      reply = { t: 'fail', id: req.id, error: 'Unavailable', message: `Unavailable: ${this.node.name} could not store the keyring: ${errorText(e)}` };
    }
    this.send([{ kind: 'reply', to: from, msg: reply }]);
  }

  private heardClient(from: Address, clientNumber: number): void {
    const known = this.clientKeys.get(from);
    if (known !== undefined && known.keyId === clientNumber) return;
    const key = this.keys.replyKey(clientNumber);
    if (key === null) return;
    this.clientKeys.delete(from);
    this.clientKeys.set(from, key);
    if (this.clientKeys.size > clientAddressesMax) this.clientKeys.delete(this.clientKeys.keys().next().value!);
  }

  private drop(from: Address, reason: string, detail: string): void {
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ event: 'dropped' }, `from ${from}: ${reason}: ${detail}`);
    this.step({ kind: 'dropped', from, reason });
  }

  sendFailed(error: Error, to: Address): void {
    this.sendFailures++;
    const now = Date.now();
    if (now - this.lastSendFailureLogMs < dropLogIntervalMs) return;
    this.logger.warn({ event: 'send-failed' }, `${this.sendFailures} sends failed since the last report; latest to ${to}: ${error.message}`);
    this.sendFailures = 0;
    this.lastSendFailureLogMs = now;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    // Nothing is handled from here on: the next process's wait-out counts from this moment.
    const stoppedAtMs = wallClockMs();
    this.udp?.stopReceiving();
    if (this.ticker !== null) clearInterval(this.ticker);
    // Finish the fsync in flight and flush what is buffered, so the acks waiting for them still leave.
    for (let round = 0; round < stopSyncRoundsMax; round++) {
      if (this.syncing === null) this.kickSync();
      if (this.syncing === null) break;
      await this.syncing;
    }
    await this.log.close();
    this.flush(); // the acks released by the last fsync
    await this.udp?.close();
    try {
      await recordCleanStop(this.dataDir, this.node.generation, stoppedAtMs);
    } catch (e) {
      // The next start then waits out the bound from its own start: longer, never unsafe.
      this.logger.warn({ event: 'stop-unrecorded' }, `clean stop not recorded in ${this.dataDir}: ${errorText(e)}`);
    }
    this.logger.info({ event: 'stopped' }, `${this.node.name} stopped`);
  }

  private step(input: Input): void {
    let effects: Effect[];
    try {
      effects = this.node.step(input, wallClockMs());
    } catch (e) {
      this.logger.error({ event: 'bug', err: e }, `node.step threw on a '${input.kind}' input (input ignored, still serving): ${errorText(e)}`);
      return;
    }
    this.execute(effects);
  }

  private execute(effects: Effect[]): void {
    const routed = this.outbox.route(effects);
    for (const { event } of routed.logs) this.logEvent(event);
    if (routed.serving) this.onServing();
    for (const { lsn, record } of routed.appends) {
      let bytes: Uint8Array;
      try {
        bytes = encodeRecord(record);
      } catch (e) {
        // Acking a write that is not in the log would break durability: stop acking instead.
        this.fail(new Error(`cannot encode log record lsn ${lsn} ('${record.t}'): ${errorText(e)}`));
        continue;
      }
      if (this.failed) continue;
      try {
        this.log.append(bytes, lsn);
      } catch (e) {
        this.fail(new Error(`cannot append log record lsn ${lsn}: ${errorText(e)}`));
      }
    }
    for (const snapshot of routed.snapshots) this.writeSnapshot(snapshot.record, snapshot.coversLsn);
    this.send(routed.sendsNow);
    if (this.stopping !== null) this.kickSync();
    else this.scheduleSync();
  }

  /**
   * Group commit at the end of the event-loop turn: every record the turn's datagrams appended
   * shares one durable write, done on the event loop when the log is free (LogFile.syncNow), so
   * the acks it holds leave in the same turn without a thread-pool round trip.
   */
  private scheduleSync(): void {
    if (this.syncScheduled || this.syncing !== null || this.failed || this.log.pendingBytes === 0) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      this.syncOnLoop();
    });
  }

  private syncOnLoop(): void {
    // At stop, shutdown() drives the last syncs itself (kickSync), and the log closes under them.
    if (this.stopping !== null || this.syncing !== null || this.failed || this.log.pendingBytes === 0) return;
    const startedMs = performance.now();
    if (startedMs < this.syncOnPoolUntilMs) {
      this.kickSync();
      return;
    }
    let upToLsn: number | null;
    try {
      upToLsn = this.log.syncNow();
      const tookMs = performance.now() - startedMs;
      if (upToLsn !== null) this.logWritten(tookMs);
      if (tookMs > syncOnLoopMsMax) this.syncOnPoolUntilMs = performance.now() + slowSyncBackoffMs;
    } catch (e) {
      this.syncFailed(e);
      return;
    }
    if (upToLsn === null) {
      this.kickSync(); // a snapshot switch or a new segment holds the log: the queued path waits for it
      return;
    }
    this.afterSync(upToLsn);
    this.flush();
  }

  /** Starts an fsync of everything buffered on the thread pool, unless one is running (then the next one takes it). */
  private kickSync(): void {
    if (this.syncing !== null || this.failed || this.log.pendingBytes === 0) return;
    const startedMs = performance.now();
    this.syncing = this.log.sync().then(
      (upToLsn) => {
        this.syncing = null;
        this.logWritten(performance.now() - startedMs);
        this.afterSync(upToLsn);
      },
      (e: unknown) => {
        this.syncing = null;
        this.syncFailed(e);
      },
    );
  }

  /** For the metrics: one durable write took tookMs (on the thread pool: its queueing included), for the records written since the last. */
  private logWritten(tookMs: number): void {
    const records = this.log.recordsWritten - this.recordsReported;
    if (records === 0) return; // nothing was buffered after all
    this.recordsReported = this.log.recordsWritten;
    this.metrics.logWrite(tookMs, records, Date.now());
  }

  /** Releases the sends that waited for the disk, tells the node, and starts the next sync. */
  private afterSync(upToLsn: number): void {
    this.send(this.outbox.synced(upToLsn));
    this.step({ kind: 'synced', upToLsn, logBytes: this.log.sizeBytes });
    if (this.stopping !== null) this.kickSync();
    else this.scheduleSync();
  }

  private syncFailed(e: unknown): void {
    if (e instanceof LogFullError) {
      // A full disk costs this replica its writes, not its life: the records are cut off the log,
      // the sends that waited for them are dropped, and the next append (a retransmission) tries
      // again, so writes resume by themselves once space returns. Reads and heartbeats go on.
      this.outbox.failed(e.fromLsn, e.toLsn);
      this.step({ kind: 'append-failed', fromLsn: e.fromLsn, toLsn: e.toLsn, reason: e.message });
      if (this.stopping !== null) this.kickSync();
      else this.scheduleSync();
      return;
    }
    // Any other failure (EIO above all) ends the process: after a failed write or fsync the
    // kernel may have dropped the dirty pages and cleared the error (fsyncgate), so neither
    // this process nor a retry can know what is durable. Only a replay of what is really on
    // disk, after a restart, can; kvd's onFatal exits so pm2 restarts it.
    this.fail(e instanceof Error ? e : new Error(String(e)));
  }

  private writeSnapshot(record: Extract<LogRecord, { t: 'snap' }>, coversLsn: number): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeRecord(record);
    } catch (e) {
      this.logger.warn({ event: 'snapshot-failed' }, `snapshot not written (the log keeps growing): ${errorText(e)}`);
      return;
    }
    const startedMs = Date.now();
    this.log.snapshot(bytes, coversLsn).then(
      () => this.logger.info({ event: 'snapshot' },
        `snapshot written: ${count(record.writes.length, 'key')}, ${count(record.hints.length, 'hint')}, ${count(bytes.length, 'byte')}, up to lsn ${coversLsn}, ` +
        `in ${Date.now() - startedMs} ms; log now ${this.log.sizeBytes} bytes`),
      (e: unknown) => this.logger.warn({ event: 'snapshot-failed' }, `snapshot not written (the log keeps growing): ${errorText(e)}`),
    );
  }

  private send(outgoing: Outgoing[]): void {
    if (outgoing.length === 0) return;
    const nowMs = Date.now();
    for (const out of outgoing) {
      if (isClientReply(out.msg)) this.metrics.replyOut(out.to, out.msg, nowMs);
      if (out.msg.t === 'state.ok') out.msg.state.figures = stateFigures(this.metrics.snapshot(nowMs)); // the core measures no time
      const queued = this.outgoing.get(out.to);
      if (queued === undefined) this.outgoing.set(out.to, [out.msg]);
      else queued.push(out.msg);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Coalesces each destination's messages into as few datagrams as fit (see codec.encodeBatch). */
  private flush(): void {
    this.flushScheduled = false;
    const udp = this.udp;
    for (const [to, msgs] of this.outgoing) {
      // Replies to a client are sealed under its credential, everything else under the peer key.
      const replyKey = this.clientKeys.get(to);
      const replies = replyKey === undefined ? [] : msgs.filter(isClientReply);
      const rest = replies.length === 0 ? msgs : msgs.filter((m) => !isClientReply(m));
      for (const d of this.encode(to, replies, replyKey)) udp?.send(to, d);
      for (const d of this.encode(to, rest, undefined)) udp?.send(to, d);
    }
    this.outgoing.clear();
  }

  private encode(to: Address, msgs: Message[], key: SealKey | undefined): Buffer[] {
    if (msgs.length === 0) return [];
    try {
      return this.codec.encodeBatch(msgs, key);
    } catch {
      // One oversize message must not take the others with it: send them one by one.
      const datagrams: Buffer[] = [];
      for (const msg of msgs) {
        try {
          datagrams.push(this.codec.encode(msg, key));
        } catch (e1) {
          this.logger.warn({ event: 'send-dropped' }, `not sent to ${to}: ${errorText(e1)}`);
        }
      }
      return datagrams;
    }
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.error({ event: 'log-failed' }, `${error.message}; no more writes are acknowledged until a restart`);
    this.onFatal(error);
  }

  private logEvent(event: LogEvent): void {
    this.logger[event.level]({ event: event.name }, event.text);
  }
}

/**
 * Wall-clock ms with a fraction of a ms, for the HLC (see core/hlc counterPerMs): the high-resolution
 * clock, which is the system clock as it was at process start plus a monotonic count, while it still
 * agrees with Date.now() to the millisecond; Date.now() alone once it has drifted (NTP slewed the
 * system clock since), so a stamp never strays from the wall clock other processes read.
 */
function wallClockMs(): number {
  const wall = Date.now();
  const precise = performance.timeOrigin + performance.now();
  return precise >= wall && precise < wall + 1 ? precise : wall;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
