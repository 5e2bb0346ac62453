// The client library (`import { KvClient } from 'ringkv'`), used by kvc, the integration tests and
// the benchmark. One connected UDP socket per replica (links.ts), many requests in flight (a map
// id -> pending); each request is retransmitted with exponential backoff and jitter, under the same
// id, until the reply carrying that id arrives, its deadline passes or the replica's port refuses.
// The coordinator answers a retransmission from its dedup cache, so a request never runs twice.
import { randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isBadCookieNotice } from '../io/cookie-notice.js';
import { resolveHosts } from '../io/resolve.js';
import { aheadOf, compareStamps } from '../core/hlc.js';
import { Codec } from '../io/codec.js';
import { clientKeys } from '../io/keys.js';
import { credentialsPath, loadCredential, type Credential } from '../io/credentials.js';
import { roles, type Role } from '../core/authorization.js';
import { ConfigError, loadConfig, requestTimeoutMsMax } from '../io/config.js';
import { clientRequestsInFlightMax, messageIdMax, retryCeilingMs } from '../core/limits.js';
import { repairDeadlineMs } from '../core/anti-entropy.js';
import type { ClientReply, ClientRequest, ClientSetRequest, Dated, FailReply, KeyringRequest, Message, RepairPeerResult, StatusReport } from '../core/messages.js';
import { clientIdPattern, isClientReply, utf8Bytes } from '../core/messages.js';
import { RttEstimator, type QuantileGuard } from '../core/rtt.js';
import { keySpaceOf, parseKey, isKeyRefused, type KeySpace } from '../core/keyspace.js';
import { parseLevel, requiredAcks } from '../core/quorum.js';
import type { ClusterConfig, Key, Level, NodeSpec, Stamp } from '../core/types.js';
import type { TraceReport } from '../core/trace.js';
import type { StateReport } from '../core/state.js';
import { findConfigPath } from './config-path.js';
import { Links } from './links.js';

/**
 * First wait before a retransmission: the RTO, from the round trips seen so far as in TCP (RFC 6298:
 * srtt + 4 rttvar, sampled only from requests answered without a retransmission), never under
 * retransmitQuantileGuard's bound (1.25 times the p99 of the last 256 round trips: with many requests
 * in flight the RTO alone sat inside the latency distribution, and under load one request in four was
 * sent twice for nothing) nor under retransmitFloorMs; retransmitFirstMs until a round trip has been
 * measured. Each later wait
 * doubles, up to retransmitCeilingMs; each is jittered ±25%. The floor is a few ms, not tens: a
 * loopback or LAN round trip is well under a millisecond, so under packet loss a fixed 50 ms floor
 * made every lost datagram cost fifty round trips; a spurious retransmission only costs a reply
 * from the coordinator's dedup cache.
 */
export const retransmitFirstMs = 50;
export const retransmitFloorMs = 5;
export const retransmitQuantileGuard: QuantileGuard = { quantile: 0.99, factor: 1.25 };
export const retransmitCeilingMs = retryCeilingMs;
/** The default deadline is the coordinator's own (write or read timeout) plus this, so its Timeout reply can still arrive. */
export const deadlineSlackMs = 1_000;
/** Requests one client holds open at once; past it a request is refused with OverloadedError, unsent. */
export const requestsInFlightMax = clientRequestsInFlightMax;
/** A coordinator's clock as a probe measured it names it in a NoResponse error for this long; probes to one coordinator at most this often. */
const clockProbeShownMs = 30_000;
const clockProbeIntervalMs = 1_000;
/** A coordinator's "bad cookie" notice names it in a NoResponse error for this long. */
const cookieNoticeShownMs = 30_000;
/** Ids start at a random point below this, so two clients on one address rarely reuse each other's. */
const idStartMax = 2 ** 47;

// ---- errors, matched by .name ----------------------------------------------------------------

/** What went wrong, as kvc prints it and --json reports it. */
export type ErrorKind = 'Unavailable' | 'Timeout' | 'Overloaded' | 'InvalidRequest' | 'Forbidden' | 'ClockSkew' | 'NoResponse' | 'BadInput';

export abstract class KvError extends Error {
  abstract readonly kind: ErrorKind;
}

/** The coordinator answered with `fail`: the message is its own; acks/required as it sent them. */
export abstract class ClusterError extends KvError {
  readonly acks: number | undefined;
  readonly required: number | undefined;
  /** The coordinator's trace of the request, when it was traced (see TraceOption). */
  readonly trace: TraceReport | undefined;
  constructor(reply: Pick<FailReply, 'message' | 'acks' | 'required' | 'trace'>) {
    super(reply.message);
    this.acks = reply.acks;
    this.required = reply.required;
    this.trace = reply.trace;
  }
}
export class UnavailableError extends ClusterError { override name = 'UnavailableError'; readonly kind = 'Unavailable'; }
export class TimeoutError extends ClusterError { override name = 'TimeoutError'; readonly kind = 'Timeout'; }
/** Also raised locally, unsent, when this client already has requestsInFlightMax requests open. */
export class OverloadedError extends ClusterError { override name = 'OverloadedError'; readonly kind = 'Overloaded'; }
export class InvalidRequestError extends ClusterError { override name = 'InvalidRequestError'; readonly kind = 'InvalidRequest'; }
/** The credential's role does not allow the request, or the credential is revoked: nothing was done. */
export class ForbiddenError extends ClusterError { override name = 'ForbiddenError'; readonly kind = 'Forbidden'; }
/**
 * The coordinator refused the request for its date by its own clock: `expired` (its deadline had
 * passed there: that clock is ahead of this client's) or `future` (sent further ahead than
 * max_clock_skew_ms: that clock is behind). offsetMs: the coordinator's clock minus this client's
 * when the answer arrived (within a round trip). Nothing was done with the copy refused; when
 * mayHaveRun, an earlier copy may have been.
 */
export class ClockSkewError extends ClusterError {
  override name = 'ClockSkewError';
  readonly kind = 'ClockSkew';
  constructor(reply: FailReply, readonly coordinator: string, readonly dated: Dated, readonly offsetMs: number, op: string, maxClockSkewMs: number,
    /** A retransmitted put or del refused as expired: an earlier copy may have reached the coordinator in time and been applied. */
    readonly mayHaveRun: boolean) {
    const way = offsetMs >= 0 ? 'ahead of' : 'behind';
    super({ ...reply, message: `ClockSkew: ${coordinator} refused this ${op} as ${dated === 'expired' ? 'expired' : 'future-dated'}: its clock is about ` +
      `${Math.abs(offsetMs)} ms ${way} this client's (max_clock_skew_ms ${maxClockSkewMs}); fix the clock (NTP) of this host or of ${coordinator}` +
      `${mayHaveRun ? `; an earlier copy of this ${op} may have been applied` : ''}` });
  }
}
/** No reply by the deadline, the replica's host refused (nothing listens), or the client was closed first. The request may still have run. */
export class NoResponseError extends KvError { override name = 'NoResponseError'; readonly kind = 'NoResponse'; }
/** The caller gave up on the request (the shell's Ctrl-C); it may still run. */
export class CancelledError extends NoResponseError { override name = 'CancelledError'; }
/** Refused before anything was sent: bad key, value, level, replica name or option. */
export class BadInputError extends KvError { override name = 'BadInputError'; readonly kind = 'BadInput'; }

function errorFromFail(reply: FailReply, p: Pending, maxClockSkewMs: number): ClusterError {
  switch (reply.error) {
    case 'ClockSkew': {
      const dated = reply.dated ?? 'expired';
      const mayHaveRun = dated === 'expired' && p.retransmitted && (p.msg.t === 'put' || p.msg.t === 'del');
      return new ClockSkewError(reply, p.to.name, dated, (reply.clockMs ?? Date.now()) - Date.now(), p.msg.t, maxClockSkewMs, mayHaveRun);
    }
    case 'Unavailable': return new UnavailableError(reply);
    case 'Timeout': return new TimeoutError(reply);
    case 'Overloaded': return new OverloadedError(reply);
    case 'InvalidRequest': return new InvalidRequestError(reply);
    case 'Forbidden': return new ForbiddenError(reply);
  }
}

// ---- results ----------------------------------------------------------------------------------

/** `trace`: the coordinator's trace, when the request was traced (see TraceOption). */
export interface Traced { trace?: TraceReport }
/** `{ trace: true }` per request (or ClientOptions.trace for all): the answer carries every step the request took (see core/trace.ts). */
export interface TraceOption { trace?: boolean }

/** found is false for a key never written and for a deleted one (the newest version is a tombstone; stamp is its stamp). */
export interface GetResult extends Traced { key: Key; found: boolean; value: string | null; stamp: Stamp | null; coordinator: string }
export interface PutResult extends Traced { key: Key; stamp: Stamp; coordinator: string }
export interface DelResult extends Traced { key: Key; deleted: true; stamp: Stamp; coordinator: string }
/** deleted: this replica holds a tombstone for the key (stamp is the delete's). */
export interface LocalResult { key: Key; found: boolean; deleted: boolean; value: string | null; stamp: Stamp | null; node: string }
/** One anti-entropy round with every peer of `node`; ok when every peer was reached and every round finished. */
export interface RepairResult extends Traced { node: string; ok: boolean; peers: RepairPeerResult[] }

/** `coordinator: 'any'`: each get/put goes to the last replica that answered, and on to the next one in nodes.toml order when that one does not. */
export const anyCoordinator = 'any';

export interface ClientOptions {
  /** The cluster's nodes.toml. Default: $KV_CONFIG, else ./nodes.toml, else the package's own (see findConfigPath). */
  configPath?: string;
  /**
   * Replica name; every get/put goes to it (the shell's rule). Default: the first node in nodes.toml.
   * 'any': fail over to the next replica when one does not answer (or its host refuses); results say which served.
   */
  coordinator?: string;
  /** Overall deadline per request. Default: the config's write (put) or read timeout + deadlineSlackMs. */
  timeoutMs?: number;
  /** The newest stamp seen before (say by an earlier kvc run): later requests are ordered after it. */
  seen?: Stamp;
  /** Trace every get, put, del and repair (the shell's `tracing on`); per request: TraceOption. */
  trace?: boolean;
  /** This client's credential file. Default: $KV_CREDENTIALS, else `<data_dir>/credentials` (the admin's, on a replica host). */
  credentials?: string;
}

/** One replica's answer to a `kvc keyring` step: its key ids and the one it seals with. */
export interface KeyringAnswer { node: string; ok: boolean; keys: number[]; use: number | null; error: string | null }
/** refused: why the step was sent to nobody (use, remove); else ok when every replica stored it. */
export interface KeyringChange { op: KeyringRequest['op']; keyId: number; ok: boolean; answers: KeyringAnswer[]; refused: string | null }
/** One replica's answer to `kvc client add|revoke`. */
export interface ClientChangeAnswer { node: string; ok: boolean; key: string | null; number: number | null; error: string | null }
/** ok: every replica stored the change. credential: the issued one (null for a revocation or when no replica stored it). */
export interface ClientChange { client: string; ok: boolean; answers: ClientChangeAnswer[]; credential: Credential | null }

/** What the socket saw; for tests, the benchmark and debugging. */
export interface ClientCounters {
  sent: number;
  retransmitted: number;
  accepted: number;
  /** Replies whose id is no longer pending: answers to a retransmission after the first answer, or late. */
  duplicates: number;
  /** Datagrams refused: codec errors (forged, cbor, invalid, …), 'unexpected' (not a reply), 'mismatched' (wrong reply type). */
  dropped: Record<string, number>;
  sendErrors: number;
}

type ReplyType = ClientReply['t'];
/** What get/put/local/status ask for; request() adds the id and, to a get or put, its age (RequestAge). */
type Request = ClientRequest extends infer R ? (R extends ClientRequest ? Omit<R, 'id' | 'sentAtMs' | 'deadlineMs'> : never) : never;

interface Pending {
  readonly msg: ClientRequest;
  readonly to: NodeSpec;
  readonly expect: ReplyType;
  readonly deadlineAt: number;
  readonly sentAt: number;
  waitMs: number;
  /** performance.now() ms of its next retransmission, or of its deadline when that comes first. */
  nextAt: number;
  retransmitted: boolean;
  resolve(reply: ClientReply): void;
  reject(e: Error): void;
}

export class KvClient {
  readonly counters: ClientCounters = { sent: 0, retransmitted: 0, accepted: 0, duplicates: 0, dropped: {}, sendErrors: 0 };
  private readonly pending = new Map<number, Pending>();
  /** Requests made this event-loop turn, not yet sent. */
  private outgoing: Pending[] = [];
  private nextId = randomInt(0, idStartMax);
  private closed = false;
  /** The newest stamp any reply carried: sent with every get and put (see GetRequest.seen). */
  private newest: Stamp | null;
  /** Each coordinator's wall clock minus this client's, as the last clock probe measured it, and when (performance.now()). */
  private readonly clockOffsets = new Map<string, { offsetMs: number; atMs: number }>();
  /** The clock probe last sent to each coordinator (performance.now() and wall clock when sent). */
  private readonly clockProbes = new Map<string, { id: number; atMs: number; sentMs: number }>();
  /** Replicas that sent a "bad cookie" notice, and when (performance.now()). */
  private readonly cookieRefusedBy = new Map<string, number>();
  /** Smoothed round trip and its variation, for the RTO; unset until the first sample. */
  private readonly rtt = new RttEstimator(retransmitFirstMs, retransmitFloorMs, retransmitCeilingMs, retransmitQuantileGuard);
  private readonly links: Links;
  /**
   * One timer for every pending request, set for the earliest nextAt: a timer per request cost a
   * setTimeout and a clearTimeout per request, most of the client's own work under load.
   */
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /** Every get, put, del and repair asks for a trace (the shell's `tracing on|off`). */
  tracing = false;
  /** The cluster's partitioner and key limit: what a key is for this client. */
  readonly keySpace: KeySpace;

  private constructor(
    readonly config: ClusterConfig,
    private coordinatorSpec: NodeSpec,
    /** Fail over to the next replica when the coordinator does not answer. */
    readonly failover: boolean,
    private readonly timeoutMs: number | undefined,
    private readonly codec: Codec,
    seen: Stamp | null,
    /** Where this client's credential came from, for error messages. */
    readonly credentialsFile: string,
  ) {
    this.newest = seen;
    this.keySpace = keySpaceOf(config);
    // A send error (e.g. no route) is counted where the send fails; retransmission covers it.
    this.links = new Links({
      datagram: (bytes, from) => this.receive(bytes, from),
      refused: (to) => this.refused(to),
      sendError: () => { this.counters.sendErrors++; },
    });
  }

  /** Reads nodes.toml and this client's credential. Throws ConfigError or BadInputError. */
  static async open(opts: ClientOptions = {}): Promise<KvClient> {
    const configPath = findConfigPath(opts.configPath);
    let config: ClusterConfig;
    try {
      config = await resolveHosts(loadConfig(configPath));
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`${configPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const first = config.nodes[0];
    if (first === undefined) throw new ConfigError(`${configPath}: no nodes`);
    const failover = opts.coordinator === anyCoordinator;
    const coordinator = opts.coordinator === undefined || failover ? first : nodeByName(config, opts.coordinator, 'coordinator');
    if (opts.timeoutMs !== undefined && (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1 || opts.timeoutMs > requestTimeoutMsMax)) {
      throw new BadInputError(`timeout: expected an integer in 1..${requestTimeoutMsMax} ms, got ${opts.timeoutMs}`);
    }
    const credentialsFile = opts.credentials ?? (process.env.KV_CREDENTIALS || credentialsPath(config));
    let credential: Credential;
    try {
      credential = loadCredential(credentialsFile);
    } catch (e) {
      throw new ConfigError(e instanceof Error ? e.message : String(e));
    }
    const codec = new Codec(clientKeys(credential), config.valueBytesMax, keySpaceOf(config));
    const client = new KvClient(config, coordinator, failover, opts.timeoutMs, codec, opts.seen ?? null, credentialsFile);
    client.tracing = opts.trace === true;
    return client;
  }

  /**
   * Admin: issues a credential for client `id` with `role` on every replica (a new key each time; an
   * earlier one of the same id stops working). Resolves with each replica's answer; the key is there
   * when at least one replica stored it, and every replica that did derives the same one.
   */
  async issueClient(id: string, role: Role): Promise<ClientChange> {
    checkClientId(id);
    if (!(roles as readonly string[]).includes(role)) throw new BadInputError(`role: expected one of ${roles.join(', ')}, got ${JSON.stringify(role)}`);
    return this.setClient({ t: 'client.set', client: id, number: randomInt(1, 2 ** 32), role, atMs: Date.now(), revoked: false });
  }

  /** Admin: revokes client `id`'s credential on every replica. */
  async revokeClient(id: string): Promise<ClientChange> {
    checkClientId(id);
    return this.setClient({ t: 'client.set', client: id, number: 0, role: 'read', atMs: Date.now(), revoked: true });
  }

  /** Admin: every replica's peer key ids and the one it seals with (a replica that does not answer: ok false). */
  async keyringList(): Promise<KeyringAnswer[]> {
    return this.keyringStep({ op: 'list', keyId: 0 });
  }

  /** Admin: a new random peer key, installed on every replica beside the one in use (nothing seals with it yet). */
  async keyringInstall(): Promise<KeyringChange> {
    const keyId = randomInt(1, 2 ** 31);
    const answers = await this.keyringStep({ op: 'install', keyId, key: randomBytes(32).toString('hex') });
    return { op: 'install', keyId, ok: answers.every((a) => a.ok), answers, refused: null };
  }

  /**
   * Admin: every replica seals with key `keyId` from now on. Refused, and sent to nobody, unless every
   * replica answers that it holds the key: a replica without it could open nothing its peers send.
   */
  async keyringUse(keyId: number): Promise<KeyringChange> {
    const listed = await this.keyringList();
    const lacking = listed.filter((a) => !a.ok || !a.keys.includes(keyId));
    if (lacking.length > 0) {
      return { op: 'use', keyId, ok: false, answers: listed, refused: `${lacking.map((a) => (a.ok ? `${a.node} does not hold key ${keyId}` : `${a.node} did not answer`)).join('; ')}: install it everywhere first (kvc keyring install, or again once they are back)` };
    }
    const answers = await this.keyringStep({ op: 'use', keyId });
    return { op: 'use', keyId, ok: answers.every((a) => a.ok), answers, refused: null };
  }

  /** Admin: forgets key `keyId` everywhere. Refused unless every replica answers and none seals with it. */
  async keyringRemove(keyId: number): Promise<KeyringChange> {
    const listed = await this.keyringList();
    const users = listed.filter((a) => !a.ok || a.use === keyId);
    if (users.length > 0) {
      return { op: 'remove', keyId, ok: false, answers: listed, refused: `${users.map((a) => (a.ok ? `${a.node} seals with key ${keyId}` : `${a.node} did not answer (it may still seal with it)`)).join('; ')}` };
    }
    const answers = await this.keyringStep({ op: 'remove', keyId });
    return { op: 'remove', keyId, ok: answers.every((a) => a.ok), answers, refused: null };
  }

  private async keyringStep(step: { op: KeyringRequest['op']; keyId: number; key?: string }): Promise<KeyringAnswer[]> {
    return Promise.all(this.config.nodes.map(async (node): Promise<KeyringAnswer> => {
      try {
        const reply = await this.request({ t: 'keyring', op: step.op, keyId: step.keyId, key: step.key ?? null }, node, 'keyring.ok', this.config.writeTimeoutMs);
        if (reply.t !== 'keyring.ok') throw new Error(`client: expected keyring.ok, got ${reply.t}`);
        return { node: node.name, ok: true, keys: reply.keys, use: reply.use, error: null };
      } catch (e) {
        if (!(e instanceof KvError)) throw e;
        return { node: node.name, ok: false, keys: [], use: null, error: e.message };
      }
    }));
  }

  private async setClient(req: Omit<ClientSetRequest, 'id'>): Promise<ClientChange> {
    const answers = await Promise.all(this.config.nodes.map(async (node): Promise<ClientChangeAnswer> => {
      try {
        const reply = await this.request(req, node, 'client.ok', this.config.writeTimeoutMs);
        if (reply.t !== 'client.ok') throw new Error(`client: expected client.ok, got ${reply.t}`);
        return { node: node.name, ok: true, key: reply.key, number: reply.number, error: null };
      } catch (e) {
        if (!(e instanceof KvError)) throw e;
        return { node: node.name, ok: false, key: null, number: null, error: e.message };
      }
    }));
    const keys = new Set(answers.filter((a) => a.ok).map((a) => `${a.number}/${a.key}`));
    if (keys.size > 1) throw new Error(`client: the replicas derived different keys for ${req.client}: their keyrings differ (${[...keys].join(', ')})`);
    const stored = answers.find((a) => a.ok);
    const credential = stored?.key == null || stored.number === null ? null : { client: req.client, number: stored.number, key: Buffer.from(stored.key, 'hex') };
    return { client: req.client, ok: answers.every((a) => a.ok), answers, credential };
  }

  /** The replica the next get or put goes to (with failover: the one that answered last). */
  get coordinator(): string {
    return this.coordinatorSpec.name;
  }

  /** The newest stamp this client has been answered with (null before any). */
  get seen(): Stamp | null {
    return this.newest;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async get(key: Key | string, level: Level | string = 'QUORUM', opts: TraceOption = {}): Promise<GetResult> {
    const k = this.checkKey(key);
    const l = this.checkLevel(level);
    const reply = await this.coordinated({ t: 'get', key: k, level: l, ...this.seenField(), ...this.traceField(opts) }, 'get.ok', this.config.readTimeoutMs);
    if (reply.t !== 'get.ok') throw new Error(`client: expected get.ok, got ${reply.t}`);
    return { key: reply.key, found: reply.value !== null, value: reply.value, stamp: reply.stamp, coordinator: reply.coordinator, ...traceOf(reply) };
  }

  async put(key: Key | string, value: string, level: Level | string = 'QUORUM', opts: TraceOption = {}): Promise<PutResult> {
    const k = this.checkKey(key);
    const v = this.checkValue(value);
    const l = this.checkLevel(level);
    const reply = await this.coordinated({ t: 'put', key: k, value: v, level: l, ...this.seenField(), ...this.traceField(opts) }, 'put.ok', this.config.writeTimeoutMs);
    if (reply.t !== 'put.ok') throw new Error(`client: expected put.ok, got ${reply.t}`);
    return { key: reply.key, stamp: reply.stamp, coordinator: reply.coordinator, ...traceOf(reply) };
  }

  /** Deletes a key: a write of a tombstone at a level, like a put. */
  async del(key: Key | string, level: Level | string = 'QUORUM', opts: TraceOption = {}): Promise<DelResult> {
    const k = this.checkKey(key);
    const l = this.checkLevel(level);
    const reply = await this.coordinated({ t: 'del', key: k, level: l, ...this.seenField(), ...this.traceField(opts) }, 'del.ok', this.config.writeTimeoutMs);
    if (reply.t !== 'del.ok') throw new Error(`client: expected del.ok, got ${reply.t}`);
    return { key: reply.key, deleted: true, stamp: reply.stamp, coordinator: reply.coordinator, ...traceOf(reply) };
  }

  /** Has a replica (default: this client's coordinator) run an anti-entropy round with every peer now; resolves when all are done. */
  async repair(node?: string, opts: TraceOption = {}): Promise<RepairResult> {
    const to = node === undefined ? this.coordinatorSpec : nodeByName(this.config, node, 'node');
    const reply = await this.request({ t: 'repair', ...this.traceField(opts) }, to, 'repair.ok', repairDeadlineMs(this.config));
    if (reply.t !== 'repair.ok') throw new Error(`client: expected repair.ok, got ${reply.t}`);
    return { node: reply.node, ok: reply.peers.every((p) => p.reached && p.error === null), peers: reply.peers, ...traceOf(reply) };
  }

  /** One replica's own stored version, without coordination. Default: this client's coordinator. */
  async local(key: Key | string, node?: string): Promise<LocalResult> {
    const k = this.checkKey(key);
    const to = node === undefined ? this.coordinatorSpec : nodeByName(this.config, node, 'node');
    const reply = await this.request({ t: 'local', key: k }, to, 'local.ok', this.config.readTimeoutMs);
    if (reply.t !== 'local.ok') throw new Error(`client: expected local.ok, got ${reply.t}`);
    return { key: reply.key, found: reply.value !== null, deleted: reply.value === null && reply.stamp !== null, value: reply.value, stamp: reply.stamp, node: reply.node };
  }

  /** A replica's view of the cluster. Default: this client's coordinator. */
  async status(node?: string): Promise<StatusReport> {
    const to = node === undefined ? this.coordinatorSpec : nodeByName(this.config, node, 'node');
    const reply = await this.request({ t: 'status' }, to, 'status.ok', this.config.readTimeoutMs);
    if (reply.t !== 'status.ok') throw new Error(`client: expected status.ok, got ${reply.t}`);
    return reply.status;
  }

  /** Everything a replica knows (core/state.ts): its status, links to peers, slow requests, figures. Default: this client's coordinator. */
  async state(node?: string): Promise<StateReport> {
    const to = node === undefined ? this.coordinatorSpec : nodeByName(this.config, node, 'node');
    const reply = await this.request({ t: 'state' }, to, 'state.ok', this.config.readTimeoutMs);
    if (reply.t !== 'state.ok') throw new Error(`client: expected state.ok, got ${reply.t}`);
    return reply.state;
  }

  /** Checks a level against the cluster's RF without sending anything (the shell's `level` command). */
  checkLevel(level: Level | string): Level {
    const l = parseLevel(level);
    if (typeof l === 'object') throw new BadInputError(l.error);
    const acks = requiredAcks(l, this.config.replicationFactor);
    if (!acks.ok) throw new BadInputError(acks.reason);
    return l;
  }

  /** Fails every request still open with CancelledError (a NoResponseError: it may still run); the client stays usable. */
  cancelAll(why = 'cancelled'): void {
    this.failPending(() => true, (p) => new CancelledError(`${why} before ${p.to.name} answered`));
  }

  /** Fails every request still open with NoResponseError and closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failPending(() => true, (p) => new NoResponseError(`client closed before ${p.to.name} answered`));
    await this.links.close();
  }

  /**
   * A request a coordinator fans out (get, put, and any later kind). Without failover it goes to
   * this client's coordinator. With failover, a replica that does not answer (or whose host
   * refuses) is passed over for the next in nodes.toml order, each tried once; an error the
   * coordinator answered (Unavailable, Timeout, …) is its answer and is not retried elsewhere.
   */
  private async coordinated(req: Request, expect: ReplyType, coordinatorTimeoutMs: number): Promise<ClientReply> {
    if (!this.failover) return this.request(req, this.coordinatorSpec, expect, coordinatorTimeoutMs);
    const nodes = this.config.nodes;
    const start = nodes.indexOf(this.coordinatorSpec);
    const silent: string[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const to = nodes[(start + i) % nodes.length]!;
      try {
        const reply = await this.request(req, to, expect, coordinatorTimeoutMs);
        this.coordinatorSpec = to;
        return reply;
      } catch (e) {
        if (!(e instanceof NoResponseError) || e instanceof CancelledError || this.closed) throw e;
        silent.push(e.message);
      }
    }
    throw new NoResponseError(`no replica answered: ${silent.join('; ')}`);
  }

  /** The replica's host says nothing listens on its port: its requests cannot be answered, fail them now. */
  private refused(to: NodeSpec): void {
    this.failPending((p) => p.to === to, () => new NoResponseError(`${to.name} (${to.host}:${to.port}) refused: nothing listens on its port; is it running?`));
  }

  private failPending(which: (p: Pending) => boolean, error: (p: Pending) => Error): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(id);
      p.reject(error(p));
    }
    if (this.pending.size === 0) this.disarm();
  }

  private traceField(opts: TraceOption): { trace?: true } {
    return opts.trace ?? this.tracing ? { trace: true } : {};
  }

  private seenField(): { seen?: Stamp } {
    return this.newest === null ? {} : { seen: this.newest };
  }

  /** What a key is comes from the cluster's key space (keyspace.ts), as for the shell and the replicas. */
  private checkKey(key: Key | string): Key {
    const k = parseKey(key, this.keySpace);
    if (isKeyRefused(k)) throw new BadInputError(k.error);
    return k;
  }

  private checkValue(value: string): string {
    if (typeof value !== 'string') throw new BadInputError(`value: expected a string, got ${typeof value}`);
    if (!value.isWellFormed()) throw new BadInputError('value: not well-formed Unicode (lone surrogate)');
    const bytes = utf8Bytes(value);
    if (bytes > this.config.valueBytesMax) {
      throw new BadInputError(`value: ${bytes} bytes in UTF-8, over the cluster's limit of ${this.config.valueBytesMax} (value_bytes_max)`);
    }
    return value;
  }

  private request(req: Request, to: NodeSpec, expect: ReplyType, coordinatorTimeoutMs: number): Promise<ClientReply> {
    if (this.closed) return Promise.reject(new NoResponseError('client closed'));
    if (this.pending.size >= requestsInFlightMax) {
      return Promise.reject(new OverloadedError({ message: `client: ${requestsInFlightMax} requests already in flight (the limit); wait for some to finish` }));
    }
    const id = this.takeId();
    const lifeMs = this.timeoutMs ?? coordinatorTimeoutMs + deadlineSlackMs;
    // A get or put tells the coordinator when this client stops waiting (wall clock, under the
    // seal): past it the coordinator refuses to start it, so a NoResponse here means the request
    // can no longer be stamped anywhere once this deadline (give or take the clock skew) passed.
    const sentAtMs = Date.now();
    const msg = (req.t === 'get' || req.t === 'put' || req.t === 'del' ? { ...req, id, sentAtMs, deadlineMs: sentAtMs + lifeMs } : { ...req, id }) as ClientRequest;
    const sentAt = performance.now();
    const deadlineAt = sentAt + lifeMs;
    const waitMs = this.rtoMs();
    return new Promise<ClientReply>((resolve, reject) => {
      const p: Pending = { msg, to, expect, deadlineAt, sentAt, waitMs, nextAt: Math.min(sentAt + jittered(waitMs), deadlineAt), retransmitted: false, resolve, reject };
      this.pending.set(id, p);
      this.enqueue(p);
      this.arm(p.nextAt);
    });
  }

  private takeId(): number {
    // Skip ids still pending: after a wrap, an id must never name two open requests.
    do this.nextId = this.nextId >= messageIdMax ? 0 : this.nextId + 1;
    while (this.pending.has(this.nextId));
    return this.nextId;
  }

  /** First sends wait for the end of this event-loop turn, to leave as few datagrams per coordinator. */
  private enqueue(p: Pending): void {
    this.outgoing.push(p);
    if (this.outgoing.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const byNode = new Map<string, Pending[]>();
    for (const p of this.outgoing) {
      const group = byNode.get(p.to.name);
      if (group === undefined) byNode.set(p.to.name, [p]);
      else group.push(p);
    }
    this.outgoing = [];
    for (const group of byNode.values()) {
      const to = group[0]!.to;
      this.counters.sent += group.length;
      for (const datagram of this.codec.encodeBatch(group.map((p) => p.msg))) this.sendDatagram(datagram, to);
    }
  }

  private send(p: Pending): void {
    this.counters.sent++;
    this.sendDatagram(this.codec.encode(p.msg), p.to);
  }

  private sendDatagram(datagram: Buffer, to: NodeSpec): void {
    if (this.closed) return;
    this.links.send(to, datagram);
  }

  /** Sets the timer for `at` unless it is already set for sooner. */
  private arm(at: number): void {
    if (at >= this.timerAt || this.closed) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()));
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /**
   * Every request whose wait is over: past its deadline it fails with NoResponseError, else it is
   * sent again and waits twice as long (jittered, up to the ceiling, never past the deadline).
   */
  private expire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, p] of this.pending) {
      if (p.nextAt > now) {
        next = Math.min(next, p.nextAt);
        continue;
      }
      if (now >= p.deadlineAt) {
        this.pending.delete(id);
        p.reject(new NoResponseError(this.noReplyText(p.to)));
        continue;
      }
      this.counters.retransmitted++;
      if (!p.retransmitted && (p.msg.t === 'get' || p.msg.t === 'put' || p.msg.t === 'del')) this.probeClock(p.to, now);
      p.retransmitted = true;
      this.send(p);
      p.waitMs = Math.min(p.waitMs * 2, retransmitCeilingMs);
      p.nextAt = Math.min(now + jittered(p.waitMs), p.deadlineAt);
      next = Math.min(next, p.nextAt);
    }
    if (next < Infinity) this.arm(next);
  }

  /**
   * A coordinated request went unanswered for a round trip: ask its coordinator what time it is, so
   * that a NoResponse can say whether the two clocks disagree (a coordinator ahead of this client by
   * more than a request's life refuses every request as expired; its ClockSkew answer says so, but
   * it is rate-limited and may be lost). A side channel: one
   * probe per coordinator at a time, at most one a second, never retransmitted, outside the counters.
   */
  private probeClock(to: NodeSpec, now: number): void {
    if (now - (this.clockProbes.get(to.name)?.atMs ?? -Infinity) < clockProbeIntervalMs) return;
    const id = this.takeId();
    this.clockProbes.set(to.name, { id, atMs: now, sentMs: Date.now() });
    this.sendDatagram(this.codec.encode({ t: 'time', id }), to);
  }

  /** A probe's answer: the coordinator's clock minus this client's, taken at the middle of the round trip. */
  private clockAnswer(msg: Extract<ClientReply, { t: 'time.ok' }>, from: NodeSpec): void {
    const probe = this.clockProbes.get(from.name);
    if (probe === undefined || probe.id !== msg.id) return;
    this.clockProbes.delete(from.name);
    this.clockOffsets.set(from.name, { offsetMs: Math.round(msg.nowMs - (probe.sentMs + Date.now()) / 2), atMs: performance.now() });
  }

  private rtoMs(): number {
    return this.rtt.timeoutMs();
  }

  private noReplyText(to: NodeSpec): string {
    const clock = this.clockOffsets.get(to.name);
    if (clock !== undefined && performance.now() - clock.atMs < clockProbeShownMs && Math.abs(clock.offsetMs) > this.config.maxClockSkewMs) {
      const way = clock.offsetMs > 0 ? 'ahead of' : 'behind';
      return `no reply from ${to.name} (${to.host}:${to.port}) within the deadline: its clock is about ${Math.abs(clock.offsetMs)} ms ${way} this client's ` +
        `(max_clock_skew_ms ${this.config.maxClockSkewMs}; it answered a clock probe), ` +
        `${clock.offsetMs > 0 ? 'so it takes this client\'s requests for expired ones' : 'so it takes this client\'s requests for future-dated ones'} ` +
        `and refuses them (its ClockSkew answers, at most one a second per client, were lost or held back); fix the clock (NTP) of this host or of ${to.name}`;
    }
    const noticeAt = this.cookieRefusedBy.get(to.name);
    if (noticeAt !== undefined && performance.now() - noticeAt < cookieNoticeShownMs) {
      return `no reply from ${to.name} (${to.host}:${to.port}) within the deadline: it says this client's datagrams fail its check ` +
        `(an unauthenticated notice): this client's credential (${this.credentialsFile}) is not one the cluster issued, or was issued again since; ` +
        `ask an admin for one (kvc client add <id> --role R)`;
    }
    return `no reply from ${to.name} (${to.host}:${to.port}) within the deadline; is it running?`;
  }

  private receive(datagram: Buffer, from: NodeSpec): void {
    if (isBadCookieNotice(datagram)) {
      this.cookieRefusedBy.set(from.name, performance.now());
      return this.drop('bad-cookie-notice');
    }
    const decoded = this.codec.decodeMany(datagram);
    if (!decoded.ok) return this.drop(decoded.error);
    for (const _ of decoded.invalid) this.drop('invalid');
    for (const msg of decoded.msgs) {
      if (msg.t === 'time.ok') this.clockAnswer(msg, from);
      else this.accept(msg);
    }
  }

  private accept(msg: Message): void {
    if (!isClientReply(msg)) return this.drop('unexpected');
    const p = this.pending.get(msg.id);
    if (p === undefined) {
      this.counters.duplicates++;
      return;
    }
    if (msg.t !== p.expect && msg.t !== 'fail') return this.drop('mismatched');
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.disarm();
    this.counters.accepted++;
    if (!p.retransmitted && msg.t !== 'fail') this.rtt.sample(performance.now() - p.sentAt);
    this.sawStamp(msg);
    if (msg.t === 'fail') p.reject(errorFromFail(msg, p, this.config.maxClockSkewMs));
    else p.resolve(msg);
  }

  /** Keeps the newest stamp a reply carried, so the next request is ordered after it. */
  private sawStamp(msg: ClientReply): void {
    const stamp = msg.t === 'get.ok' || msg.t === 'put.ok' ? msg.stamp : null;
    if (stamp === null || (this.newest !== null && compareStamps(stamp, this.newest) <= 0)) return;
    // A stamp made by a clock running fast would make every coordinator refuse this client: not carried.
    if (aheadOf(stamp, Date.now()) > this.config.maxClockSkewMs) return;
    this.newest = stamp;
  }

  private drop(reason: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }
}


function traceOf(reply: { trace?: TraceReport }): Traced {
  return reply.trace === undefined ? {} : { trace: reply.trace };
}

/** A wait jittered by ±25%, so clients that lost the same datagrams do not retransmit in step. */
function jittered(waitMs: number): number {
  return waitMs * (0.75 + Math.random() * 0.5);
}

function checkClientId(id: string): void {
  if (!clientIdPattern.test(id)) throw new BadInputError(`client id: expected 1..64 characters from A-Z a-z 0-9 _ . @ -, got ${JSON.stringify(id)}`);
}

function nodeByName(config: ClusterConfig, name: string, what: string): NodeSpec {
  const spec = config.nodes.find((n) => n.name === name);
  if (spec === undefined) {
    throw new BadInputError(`${what}: unknown replica ${JSON.stringify(name)} (replicas: ${config.nodes.map((n) => n.name).join(', ')})`);
  }
  return spec;
}
