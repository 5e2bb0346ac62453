#!/usr/bin/env node
// kvc, the ringkv client: an interactive shell bound to one coordinator, and one-shot commands for
// scripts. Exit status: 0 success (found or not), 1 the cluster answered with an error or did not
// answer, 2 input refused before anything was sent (bad key, value, level, replica or config).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Role } from '../core/authorization.js';
import { credentialText } from '../io/credentials.js';
import { compareStamps, formatStamp } from '../core/hlc.js';
import { formatKey, type KeySpace } from '../core/keyspace.js';
import { count } from '../core/text.js';
import { validate, type StatusReport } from '../core/messages.js';
import type { Plan } from '../core/ring/plan.js';
import type { RingChange } from '../core/ring/state.js';
import type { Level, Stamp } from '../core/types.js';
import { ConfigError } from '../io/config.js';
import {
  BadInputError, CancelledError, ClockSkewError, ClusterError, KvClient, KvError, type ClientChange, type ClientOptions, type KeyringAnswer, type KeyringChange, type DelResult, type GetResult, type LocalResult, type PutResult,
  type RepairResult,
} from '../client/client.js';
import { changeFromArgs, liveRing, planJson, planOf, planText, ringJson, ringText, type LiveRing } from './ring-view.js';
import { isRefused, parseShellLine, type ShellCommand } from './shell-parse.js';
import { traceJson, traceTable } from './trace-table.js';
import { fetchClusterView } from './cluster-state.js';
import { renderTop, runTop } from './top.js';
import type { TraceReport } from '../core/trace.js';
import { defaultHistoryFile, runShell } from './shell.js';
import { dashboardHostDefault, dashboardPortDefault, startDashboard } from './dashboard.js';

const exitOk = 0;
const exitClusterError = 1;
const exitBadInput = 2;
const defaultLevel: Level = 'QUORUM';

// ---- output -------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function stampJson(stamp: Stamp | null): Json {
  return { timestamp: stamp === null ? null : stamp[0], stamp };
}

function getText(r: GetResult): string {
  return r.found && r.stamp !== null
    ? `${formatKey(r.key)} = ${JSON.stringify(r.value)} (stamp ${formatStamp(r.stamp)}, coordinator ${r.coordinator})`
    : `${formatKey(r.key)} not found (coordinator ${r.coordinator})`;
}
function getJson(r: GetResult): Json {
  return { ok: true, key: r.key, found: r.found, value: r.value, ...stampJson(r.stamp), coordinator: r.coordinator };
}
function putText(r: PutResult): string {
  return `OK ${formatKey(r.key)} (stamp ${formatStamp(r.stamp)}, coordinator ${r.coordinator})`;
}
function putJson(r: PutResult): Json {
  return { ok: true, key: r.key, ...stampJson(r.stamp), coordinator: r.coordinator };
}
function delText(r: DelResult): string {
  return `DELETED ${formatKey(r.key)} (stamp ${formatStamp(r.stamp)}, coordinator ${r.coordinator})`;
}
function delJson(r: DelResult): Json {
  return { ok: true, key: r.key, deleted: true, stamp: r.stamp, coordinator: r.coordinator };
}
function localText(r: LocalResult): string {
  if (r.found && r.stamp !== null) return `${formatKey(r.key)} = ${JSON.stringify(r.value)} (stamp ${formatStamp(r.stamp)}, node ${r.node})`;
  if (r.deleted && r.stamp !== null) return `${formatKey(r.key)} not found: deleted (tombstone stamp ${formatStamp(r.stamp)}, node ${r.node})`;
  return `${formatKey(r.key)} not found (node ${r.node})`;
}
function localJson(r: LocalResult): Json {
  return { ok: true, key: r.key, found: r.found, ...(r.deleted ? { deleted: true } : {}), value: r.value, ...stampJson(r.stamp), node: r.node };
}
function repairText(r: RepairResult): string {
  const lines = r.peers.map((p) => `  ${p.name}: ` + (p.reached
    ? `sent ${p.sent}, received ${p.received}${p.error !== null ? ` (unfinished: ${p.error})` : ''}`
    : `not reached: ${p.error ?? 'no answer'}`));
  const unreached = r.peers.filter((p) => !p.reached || p.error !== null).map((p) => p.name);
  const head = r.ok ? `repair on ${r.node}: every peer done` : `repair on ${r.node}: ${unreached.join(', ')} could not be repaired`;
  return [head, ...lines].join('\n');
}
function repairJson(r: RepairResult): Json {
  return { ok: r.ok, node: r.node, peers: r.peers };
}

function upOrDown(s: StatusReport, name: string): string {
  if (name === s.node) return 'UP';
  const peer = s.peers.find((p) => p.name === name);
  return peer === undefined ? '?' : peer.up ? 'UP' : 'DOWN';
}
function droppedText(s: StatusReport): string {
  const entries = Object.entries(s.droppedDatagrams).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'none' : entries.map(([why, n]) => `${why} ${n}`).join(', ');
}

/** A replica whose disk is full acks no writes; say so where the log is reported. */
function logFullText(s: StatusReport): string {
  return `${s.logWritable ? '' : ' (DISK FULL: not writable, acking no writes)'}${s.logAppendsFailed > 0 ? `, ${count(s.logAppendsFailed, 'append')} refused for lack of space` : ''}`;
}

/** What is wrong with each peer, as this replica sees it: clock, config, keys. */
function peerProblems(s: StatusReport): string[] {
  const out: string[] = [];
  for (const p of s.peers) {
    if (p.name === s.node) continue;
    const problems: string[] = [];
    if (p.clockRefused) problems.push(`clock ${p.clockOffsetMs !== null && p.clockOffsetMs >= 0 ? '+' : ''}${p.clockOffsetMs ?? '?'} ms beyond max_clock_skew_ms (traffic refused)`);
    if (p.configMismatch) problems.push('another config (nodes, replication_factor or value_bytes_max differ; traffic refused)');
    if (p.forged) problems.push('its datagrams fail our authentication (another keyring)');
    if (p.refusesOurCookie) problems.push('says our datagrams fail its authentication (another keyring)');
    if (problems.length > 0) out.push(`${p.name}: ${problems.join('; ')}`);
  }
  return out;
}

function clockOffsets(s: StatusReport): string {
  const known = s.peers.filter((p) => p.name !== s.node && p.clockOffsetMs !== null);
  return known.length === 0 ? 'none heard yet' : known.map((p) => `${p.name} ${p.clockOffsetMs! >= 0 ? '+' : ''}${p.clockOffsetMs} ms`).join(', ');
}

/** A restarted replica in its wait-out serves reads, but not yet every write (core/restart-wait.ts). */
function startingText(s: StatusReport): string | null {
  return s.writesServedInMs > 0 ? `starting: serves writes in ${s.writesServedInMs} ms` : null;
}

function statusText(s: StatusReport): string {
  const width = Math.max(...s.ring.flatMap((r) => r.replicas.map((n) => n.length)), 4);
  const starting = startingText(s);
  const lines = [
    `${s.node}: replication factor ${s.replicationFactor}, repair ${s.repairMode}, client requests in flight ${s.clientRequestsInFlight}`,
    ...(starting !== null ? [`${starting} (restarted: it waits out 2 × max_clock_skew_ms so that no write its previous process may have stamped is stamped again; reads are served)`] : []),
    ...(s.partitioner === 'hashed' ? [`keys: hashed onto 256 slots (murmur3), text of 1..${s.keyBytesMax} UTF-8 bytes; ranges below are slots`] : []),
    `ring (as ${s.node} sees it):`,
    ...s.ring.map((r) => `  ${`${r.first}..${r.last}`.padStart(8)}  ${r.replicas.map((n) => `${n.padEnd(width)} ${upOrDown(s, n).padEnd(4)}`).join('  ').trimEnd()}`),
    // A coordinator holds hints for its peers only: it is not listed under its own.
    `hints pending: ${s.peers.filter((p) => p.name !== s.node).map((p) => `${p.name} ${p.hintsPending}`).join(', ') || 'no peers'}`,
    ...(s.peers.some((p) => p.hintsExpired > 0)
      ? [`hints expired (older than max_hint_window_ms; repair these replicas): ${s.peers.filter((p) => p.hintsExpired > 0).map((p) => `${p.name} ${p.hintsExpired}`).join(', ')}`]
      : []),
    ...antiEntropyLines(s),
    `keys stored: ${s.keysStored}, ${count(s.tombstones, 'tombstone')}; log: ${count(s.logBytes, 'byte')} in ${count(s.logRecords, 'record')}${logFullText(s)}`,
    `dropped datagrams: ${droppedText(s)}`,
    `config digest ${s.configDigest}; peers' clocks (theirs minus ours): ${clockOffsets(s)}`,
    ...peerProblems(s).map((p) => `PROBLEM ${p}`),
    ...(s.clockWarning !== null ? [`CLOCK PROBLEM: ${s.clockWarning}`] : []),
    ...(s.quarantinedAtReplay > 0 ? [`replay kept ${s.quarantinedAtReplay} versions out: stamped beyond max_clock_skew_ms ahead of this clock (see its start log)`] : []),
  ];
  return lines.join('\n');
}

/** Per peer: when the last anti-entropy round with it finished, and the keys repaired each way since the replica started. */
function antiEntropyLines(s: StatusReport): string[] {
  if (s.antiEntropyIntervalMs === 0) return ['anti-entropy: off (anti_entropy_interval_ms = 0; kvc repair still runs a round)'];
  const peers = s.peers.filter((p) => p.name !== s.node && (p.antiEntropy.rounds > 0 || p.antiEntropy.keysSent + p.antiEntropy.keysReceived > 0 || p.up));
  return [`anti-entropy every ${s.antiEntropyIntervalMs} ms:`, ...peers.map((p) => {
    const a = p.antiEntropy;
    const last = a.lastRoundMs === null ? 'no round finished yet' : `last round ${new Date(a.lastRoundMs).toISOString()} (${ago(a.lastRoundMs)})`;
    return `  ${p.name}: ${last}; ${count(a.rounds, 'round')}, keys repaired: ${a.keysSent} sent, ${a.keysReceived} received`;
  })];
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return `${s} s ago`;
}

/** The status on one line, for piped shells: one result line per command. */
function statusLine(s: StatusReport): string {
  const names = s.peers.map((p) => p.name); // every replica, this one included
  const up = names.filter((n) => upOrDown(s, n) === 'UP');
  const down = names.filter((n) => upOrDown(s, n) !== 'UP');
  const hints = s.peers.filter((p) => p.name !== s.node && p.hintsPending > 0).map((p) => `${p.name} ${p.hintsPending}`);
  const starting = startingText(s);
  return `${s.node}: ${starting !== null ? `${starting}; ` : ''}RF ${s.replicationFactor}, ${s.repairMode}${s.partitioner === 'hashed' ? ', hashed keys' : ''}; up ${up.join(' ') || 'none'}; down ${down.join(' ') || 'none'}; `
    + `hints ${hints.join(', ') || 'none'}; keys ${s.keysStored}, tombstones ${s.tombstones}; `
    + `anti-entropy ${s.antiEntropyIntervalMs === 0 ? 'off' : `repaired ${count(s.peers.reduce((n, p) => n + p.antiEntropy.keysSent + p.antiEntropy.keysReceived, 0), 'key')}`}; `
    + `log ${count(s.logBytes, 'byte')}/${count(s.logRecords, 'record')}${logFullText(s)}; dropped ${droppedText(s)}`
    + peerProblems(s).map((p) => `; PROBLEM ${p}`).join('')
    + (s.clockWarning !== null ? `; CLOCK PROBLEM: ${s.clockWarning}` : '');
}

// ---- the cluster's state ----------------------------------------------------------------------------

/** kvc top: the view redrawn every second; q quits. */
async function top(args: CommonArgs): Promise<void> {
  let client: KvClient | undefined;
  try {
    client = await KvClient.open(clientOptions(args));
    const c = client;
    await runTop({ input: process.stdin, output: process.stdout, fetch: () => fetchClusterView(c) });
  } catch (e) {
    console.error(errorText(e));
    process.exitCode = exitCodeOf(e);
  } finally {
    await client?.close();
  }
}

// ---- traces -------------------------------------------------------------------------------------

/** The trace a result or an error carries (the request was traced), else undefined. */
function traceIn(x: unknown): TraceReport | undefined {
  if (x instanceof ClusterError) return x.trace;
  return typeof x === 'object' && x !== null && 'trace' in x ? (x as { trace?: TraceReport }).trace : undefined;
}
function names(client: KvClient | undefined): string[] {
  return client?.config.nodes.map((n) => n.name) ?? [];
}
/** The table below the result, as cqlsh prints it with TRACING ON. */
function withTraceText(text: string, x: unknown, client: KvClient | undefined): string {
  const t = traceIn(x);
  return t === undefined ? text : `${text}

${traceTable(t, names(client))}`;
}
function withTraceJson(json: Json, x: unknown, client: KvClient | undefined): Json {
  const t = traceIn(x);
  return t === undefined ? json : { ...json, trace: traceJson(t, names(client)) };
}

/** Piped without --json: one line per command, so the trace is its session and decision only. */
function traceLine(x: unknown): string {
  const t = traceIn(x);
  return t === undefined ? '' : ` [trace ${t.session}: ${t.events.length} events, ${t.durationUs} µs]`;
}

function exitCodeOf(e: unknown): number {
  if (e instanceof KvError) return e.kind === 'BadInput' ? exitBadInput : exitClusterError;
  if (e instanceof ConfigError) return exitBadInput;
  return exitClusterError;
}

function errorText(e: unknown): string {
  if (e instanceof CancelledError) return `${e.message} (the request may still run)`;
  if (e instanceof KvError) {
    const prefix = `${e.kind}:`;
    let text = e.message.startsWith(prefix) ? e.message : `${prefix} ${e.message}`;
    if (e instanceof ClusterError && e.acks !== undefined && e.required !== undefined && !text.includes(`${e.acks} of ${e.required}`)) {
      text += ` (${e.acks} of ${e.required} acks)`;
    }
    return text;
  }
  if (e instanceof ConfigError) return e.message;
  return `kvc: ${e instanceof Error ? e.message : String(e)}`;
}

function errorJson(e: unknown): Json {
  if (e instanceof KvError) {
    const out: Json = { ok: false, error: e.kind === 'BadInput' ? 'InvalidRequest' : e.kind, message: e.message };
    if (e instanceof ClusterError && e.acks !== undefined) out.acks = e.acks;
    if (e instanceof ClusterError && e.required !== undefined) out.required = e.required;
    if (e instanceof ClockSkewError) { out.dated = e.dated; out.offsetMs = e.offsetMs; if (e.mayHaveRun) out.mayHaveRun = true; }
    return out;
  }
  if (e instanceof ConfigError) return { ok: false, error: 'InvalidRequest', message: e.message };
  return { ok: false, error: 'NoResponse', message: e instanceof Error ? e.message : String(e) };
}

// ---- one-shot commands --------------------------------------------------------------------------

interface CommonArgs {
  config?: string | undefined; coordinator?: string | undefined; json: boolean; timeoutMs?: number | undefined;
  seen?: string | undefined; seenFile?: string | undefined; trace?: boolean | undefined; credentials?: string | undefined;
}

/** `--seen`: a stamp as kvc prints it (1763700000123.0@2) or as --json does ([1763700000123,0,2]). */
function parseSeen(text: string): Stamp {
  const printed = /^(\d{1,16})\.(\d{1,16})@(\d{1,2})$/.exec(text.trim());
  let parts: unknown = printed === null ? undefined : printed.slice(1).map(Number);
  if (parts === undefined) {
    try { parts = JSON.parse(text); } catch { parts = undefined; }
  }
  const v = validate({ t: 'get', id: 0, key: 0, level: 'ONE', sentAtMs: 0, deadlineMs: 0, seen: parts });
  if (!v.ok || v.msg.t !== 'get' || v.msg.seen === undefined) {
    throw new BadInputError(`--seen: expected a stamp like 1763700000123.0@2 or [1763700000123,0,2], got ${JSON.stringify(text)}`);
  }
  return v.msg.seen;
}

/** The stamp kept in --seen-file by an earlier run, or null when there is none yet. */
function readSeenFile(path: string): Stamp | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BadInputError(`--seen-file ${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseSeen(text);
}

/** Keeps the newest stamp for the next run: written whole to a temp file, then renamed over the old one. */
function writeSeenFile(path: string, stamp: Stamp): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(stamp)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

function newer(a: Stamp | null, b: Stamp | null): Stamp | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareStamps(a, b) >= 0 ? a : b;
}

function clientOptions(args: CommonArgs): ClientOptions {
  const opts: ClientOptions = {};
  if (args.config !== undefined) opts.configPath = args.config;
  const seen = newer(args.seen === undefined ? null : parseSeen(args.seen), args.seenFile === undefined ? null : readSeenFile(args.seenFile));
  if (seen !== null) opts.seen = seen;
  if (args.coordinator !== undefined) opts.coordinator = args.coordinator;
  if (args.timeoutMs !== undefined) opts.timeoutMs = args.timeoutMs;
  if (args.trace === true) opts.trace = true;
  if (args.credentials !== undefined) opts.credentials = args.credentials;
  return opts;
}

/** Opens a client, runs one request, prints its result or error, sets the exit status. */
async function oneShot<R>(
  args: CommonArgs, run: (c: KvClient) => Promise<R>, text: (r: R) => string, json: (r: R) => Json, exitOf: (r: R) => number = () => exitOk,
): Promise<void> {
  let client: KvClient | undefined;
  try {
    client = await KvClient.open(clientOptions(args));
    const result = await run(client);
    if (args.seenFile !== undefined && client.seen !== null) writeSeenFile(args.seenFile, client.seen);
    console.log(args.json ? JSON.stringify(withTraceJson(json(result), result, client)) : withTraceText(text(result), result, client));
    process.exitCode = exitOf(result);
  } catch (e) {
    reportError(args, e, client);
  } finally {
    await client?.close();
  }
}

function reportError(args: CommonArgs, e: unknown, client?: KvClient): void {
  if (args.json) console.log(JSON.stringify(withTraceJson(errorJson(e), e, client)));
  else console.error(withTraceText(errorText(e), e, client));
  process.exitCode = exitCodeOf(e);
}

/** `kvc ring plan …`: the change is checked before anything is sent, then planned against the live ring. */
async function ringPlan(args: CommonArgs & { node?: string | undefined }, words: Parameters<typeof changeFromArgs>[0]): Promise<void> {
  let change: RingChange;
  try {
    change = changeFromArgs(words);
  } catch (e) {
    reportError(args, e);
    return;
  }
  await oneShot<[LiveRing, Plan]>(args, async (c) => {
    const live = await liveRing(c, args.node);
    return [live, planOf(live, change)];
  }, ([live, p]) => planText(live, p), ([live, p]) => planJson(live, p));
}

// ---- credentials ---------------------------------------------------------------------------------

function clientChangeText(c: ClientChange, what: string, out: string | null): string {
  const done = c.answers.filter((a) => a.ok).map((a) => a.node);
  const missed = c.answers.filter((a) => !a.ok);
  const lines = [`${what} client ${c.client} on ${c.ok ? 'every replica' : `${done.length} of ${c.answers.length} replicas`} (${done.join(', ') || 'none'})`];
  for (const a of missed) lines.push(`  ${a.node}: not stored: ${a.error}`);
  if (out !== null) lines.push(`credential written to ${out} (mode 0600): give it to that client only (kvc --credentials ${out}, or KV_CREDENTIALS)`);
  if (!c.ok) lines.push(`run the same command again once ${missed.map((a) => a.node).join(', ')} ${missed.length === 1 ? 'is' : 'are'} reachable`);
  return lines.join('\n');
}

function clientChangeJson(c: ClientChange, out: string | null): Json {
  return { ok: c.ok, client: c.client, replicas: c.answers.map((a) => ({ node: a.node, ok: a.ok, error: a.error })), ...(out === null ? {} : { credentials: out }) };
}

/** `kvc client add <id> --role R`: issues it on every replica, then writes the credential file (never over an existing one). */
async function clientAdd(a: CommonArgs & { id: string; role: string; out?: string | undefined }): Promise<void> {
  const out = a.out ?? `${a.id}.credentials`;
  await oneShot(a, async (c) => {
    if (existsSync(out)) throw new BadInputError(`${out} exists already: remove it or give another --out`);
    const change = await c.issueClient(a.id, a.role as Role);
    if (change.credential !== null) writeFileSync(out, credentialText(change.credential), { mode: 0o600, flag: 'wx' });
    return { change, out: change.credential === null ? null : out };
  }, (r) => clientChangeText(r.change, 'issued', r.out), (r) => clientChangeJson(r.change, r.out), (r) => (r.change.ok ? exitOk : exitClusterError));
}

async function clientRevoke(a: CommonArgs & { id: string }): Promise<void> {
  await oneShot(a, (c) => c.revokeClient(a.id), (r) => clientChangeText(r, 'revoked', null), (r) => clientChangeJson(r, null), (r) => (r.ok ? exitOk : exitClusterError));
}

function keyringAnswersText(answers: KeyringAnswer[]): string[] {
  return answers.map((a) => (a.ok ? `  ${a.node}: keys ${a.keys.map((k) => (k === a.use ? `${k} (in use)` : String(k))).join(', ')}` : `  ${a.node}: no answer: ${a.error}`));
}

/** Every replica holds the same keys and seals with the same one. */
function keyringAgrees(answers: KeyringAnswer[]): boolean {
  const views = new Set(answers.map((a) => (a.ok ? `${[...a.keys].sort((x, y) => x - y).join(',')}/${a.use}` : 'none')));
  return views.size === 1 && !views.has('none');
}

function keyringChangeText(c: KeyringChange): string {
  if (c.refused !== null) return [`keyring ${c.op} ${c.keyId} refused, sent to no replica: ${c.refused}`, ...keyringAnswersText(c.answers)].join('\n');
  const done = c.answers.filter((a) => a.ok).length;
  const next = c.op === 'install' ? `; next: kvc keyring use ${c.keyId}` : c.op === 'use' ? '; once the old key is used by no replica: kvc keyring remove <old id>' : '';
  return [`keyring ${c.op} ${c.keyId}: ${c.ok ? 'every replica' : `${done} of ${c.answers.length} replicas`}${c.ok ? next : ' (run it again once the others are back)'}`, ...keyringAnswersText(c.answers)].join('\n');
}

async function keyring(a: CommonArgs & { action: string; id?: number | undefined }): Promise<void> {
  if (a.action === 'list') {
    await oneShot(a, (c) => c.keyringList(), (r) => [`peer keys of every replica${keyringAgrees(r) ? ' (all agree)' : ': THEY DIFFER'}`, ...keyringAnswersText(r)].join('\n'),
      (r) => ({ ok: keyringAgrees(r), replicas: r }), (r) => (keyringAgrees(r) ? exitOk : exitClusterError));
    return;
  }
  await oneShot(a, (c) => {
    if (a.action === 'install') return c.keyringInstall();
    if (a.id === undefined || !Number.isInteger(a.id) || a.id < 1) throw new BadInputError(`keyring ${a.action} needs the key id (kvc keyring list shows them)`);
    return a.action === 'use' ? c.keyringUse(a.id) : c.keyringRemove(a.id);
  }, keyringChangeText, (r) => ({ ok: r.ok, op: r.op, keyId: r.keyId, refused: r.refused, replicas: r.answers }), (r) => (r.ok ? exitOk : exitClusterError));
}

// ---- the shell ----------------------------------------------------------------------------------

function shellHelp(coordinator: string, keys: KeySpace): string {
  return [
    `commands (every request goes to ${coordinator}):`,
    keys.partitioner === 'hashed'
      ? `  get <key> [level]           read a key (text of 1..${keys.keyBytesMax} UTF-8 bytes; quote one with spaces) at a level (default: the shell's level)`
      : '  get <key> [level]           read key 0..255 at a level (default: the shell\'s level)',
    '  put <key> <value> [level]   write; quote a value with spaces: put 17 "hello world" QUORUM (or \'...\')',
    '  del <key> [level]           delete (a tombstone written like a put; a get then finds nothing)',
    '  get,17,QUORUM  put,17,hello,ONE  del,17,ALL   the original comma syntax (a put\'s last field is its level)',
    '  level [L]                   show or set the default level: ONE TWO THREE QUORUM ALL (any case; QUORUM at start)',
    '  status                      the coordinator\'s view: ring, replicas UP/DOWN, hints, anti-entropy, keys, log, drops',
    '  tracing [on|off]            print every later get, put, del and repair with its trace: each message, replica step and ack',
    `  repair                      an anti-entropy round of ${coordinator} with every peer, now`,
    '  help                        this text',
    '  quit | exit                 leave (also Ctrl-D); Ctrl-C cancels the request in flight or clears the line',
    '  history: ~/.kvc_history (KV_HISTORY=FILE, or KV_HISTORY= for none)',
    'with stdin not a terminal (kvc < commands.txt): no prompt, one result line per command on stdout,',
    'errors and status included (help excepted); the exit status is 0 if every command succeeded, else',
    'that of the last command that failed: 1 the cluster answered with an error or did not answer,',
    '2 input refused before sending. At a terminal the shell always exits 0.',
  ].join('\n');
}

interface ShellState { client: KvClient; level: Level; json: boolean; interactive: boolean }

/** Runs one parsed command; returns its exit code, or 'quit'. */
async function execute(c: ShellCommand, st: ShellState): Promise<number | 'quit'> {
  // Piped without --json, one line per command: a trace is named on it, not drawn.
  const say = (text: string, json: Json, result?: unknown) => console.log(st.json
    ? JSON.stringify(withTraceJson(json, result, st.client))
    : st.interactive ? withTraceText(text, result, st.client) : text + traceLine(result));
  switch (c.cmd) {
    case 'none': return exitOk;
    case 'quit': return 'quit';
    case 'help': console.log(shellHelp(st.client.failover ? 'the first replica that answers (--coordinator any)' : st.client.coordinator, st.client.keySpace)); return exitOk;
    case 'level':
      if (c.level !== undefined) st.level = st.client.checkLevel(c.level);
      say(`level ${st.level}`, { ok: true, level: st.level });
      return exitOk;
    case 'get': {
      const r = await st.client.get(c.key, c.level ?? st.level);
      say(getText(r), getJson(r), r);
      return exitOk;
    }
    case 'put': {
      const r = await st.client.put(c.key, c.value, c.level ?? st.level);
      say(putText(r), putJson(r), r);
      return exitOk;
    }
    case 'del': {
      const r = await st.client.del(c.key, c.level ?? st.level);
      say(delText(r), delJson(r), r);
      return exitOk;
    }
    case 'repair': {
      const r = await st.client.repair();
      say(st.interactive ? repairText(r) : repairText(r).replaceAll('\n', ';'), repairJson(r), r);
      return r.ok ? exitOk : exitClusterError;
    }
    case 'tracing':
      if (c.on !== undefined) st.client.tracing = c.on;
      say(`tracing ${st.client.tracing ? 'on' : 'off'}`, { ok: true, tracing: st.client.tracing });
      return exitOk;
    case 'status': {
      const s = await st.client.status();
      say(st.interactive ? statusText(s) : statusLine(s), { ok: true, ...s });
      return exitOk;
    }
  }
}

async function shell(args: CommonArgs): Promise<void> {
  let client: KvClient;
  try {
    client = await KvClient.open(clientOptions(args));
  } catch (e) {
    reportError(args, e);
    return;
  }
  const interactive = process.stdin.isTTY === true;
  const st: ShellState = { client, level: defaultLevel, json: args.json, interactive };
  let exitCode = exitOk;
  if (interactive) {
    console.log(`kvc: coordinator ${client.failover ? 'any (the next replica when one does not answer)' : client.coordinator}, `
      + `replication factor ${client.config.replicationFactor}, level ${st.level}; type help, Ctrl-C cancels, Ctrl-D leaves`);
  }
  const run = async (line: string): Promise<'quit' | undefined> => {
    const c = parseShellLine(line, client.keySpace);
    let code: number | 'quit';
    try {
      if (isRefused(c)) throw new BadInputError(c.error);
      code = await execute(c, st);
    } catch (e) {
      // Piped, errors go to stdout too, so the output keeps one line per command.
      if (st.json) console.log(JSON.stringify(withTraceJson(errorJson(e), e, client)));
      else if (interactive) console.error(withTraceText(errorText(e), e, client));
      else console.log(errorText(e) + traceLine(e));
      code = exitCodeOf(e);
    }
    if (code === 'quit') return 'quit';
    // A person at the prompt sees each error; only a script needs them in the exit status.
    if (code !== exitOk && !interactive) exitCode = code;
    return undefined;
  };
  try {
    await runShell({
      input: process.stdin, output: process.stdout, terminal: interactive,
      prompt: `kvc ${client.failover ? 'any' : client.coordinator}> `,
      historyFile: defaultHistoryFile(), run,
      cancel: () => client.cancelAll('cancelled (Ctrl-C)'),
    });
  } finally {
    if (args.seenFile !== undefined && client.seen !== null) writeSeenFile(args.seenFile, client.seen);
    await client.close();
  }
  process.exitCode = exitCode;
}

// ---- arguments ----------------------------------------------------------------------------------

function wantsJson(argv: string[]): boolean {
  const dashes = argv.indexOf('--');
  return (dashes < 0 ? argv : argv.slice(0, dashes)).includes('--json');
}

/**
 * yargs fills no positional from the words after `--`, and reads a lone `-` as an empty string. So
 * each such word goes to yargs as a stand-in it takes as a plain word, and `word` maps it back:
 * `kvc put 17 -- -x` stores "-x".
 */
function protectWords(argv: string[]): { args: string[]; word: (x: string | undefined) => string } {
  const words: string[] = [];
  const standIn = (w: string) => `\u0000${words.push(w) - 1}`;
  const dashes = argv.indexOf('--');
  const head = dashes < 0 ? argv : argv.slice(0, dashes);
  const tail = dashes < 0 ? [] : argv.slice(dashes + 1);
  const args = [...head.map((w) => (w === '-' ? standIn(w) : w)), ...tail.map(standIn)];
  const word = (x: string | undefined) => {
    const m = x === undefined ? null : /^\u0000(\d+)$/.exec(x);
    return m === null ? (x ?? '') : (words[Number(m[1])] ?? '');
  };
  return { args, word };
}

async function main(): Promise<void> {
  const argv = hideBin(process.argv);
  const { args, word } = protectWords(argv);
  await yargs(args)
    .scriptName('kvc')
    .usage('$0 [command]\n\nWithout a command: the interactive shell, bound to one coordinator (type help in it).')
    .option('config', { type: 'string', describe: 'the cluster\'s nodes.toml (default: $KV_CONFIG, else ./nodes.toml, else the one of this package)' })
    .option('coordinator', { type: 'string', describe: 'replica every get/put goes to (default: the first in nodes.toml); any: the next live one when one does not answer' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per result' })
    .option('timeout-ms', { type: 'number', describe: 'overall deadline per request (default: the config\'s write/read timeout + 1 s)' })
    .option('seen', { type: 'string', describe: 'the newest stamp an earlier run printed: this request is ordered after it (env KV_SEEN)', default: process.env.KV_SEEN })
    .option('trace', { type: 'boolean', default: false, describe: 'trace each get, put, del and repair: every message, replica step and ack, printed below the result (in the shell: tracing on)' })
    .option('seen-file', { type: 'string', describe: 'read the newest stamp seen from this file before the request and keep it there after (env KV_SEEN_FILE)', default: process.env.KV_SEEN_FILE })
    .option('credentials', { type: 'string', describe: 'this client\'s credential file (default: $KV_CREDENTIALS, else <data_dir>/credentials, the admin\'s on a replica host)' })
    .command('$0', 'open the interactive shell (reads commands line by line when stdin is not a terminal)', () => {}, (a) => shell(a))
    .command('get <key>', 'read a key', (y) => y
      .positional('key', { type: 'string', describe: 'integer 0..255; text under partitioner = "hashed"' })
      .option('cl', { alias: 'level', type: 'string', default: defaultLevel, describe: 'ONE, TWO, THREE, QUORUM or ALL' }),
    (a) => oneShot(a, (c) => c.get(word(a.key), a.cl), getText, getJson))
    .command('put <key> <value>', 'write a key (a value starting with - goes after --)', (y) => y
      .positional('key', { type: 'string', describe: 'integer 0..255; text under partitioner = "hashed"' })
      .positional('value', { type: 'string', describe: 'UTF-8 text' })
      .option('cl', { alias: 'level', type: 'string', default: defaultLevel, describe: 'ONE, TWO, THREE, QUORUM or ALL' }),
    (a) => oneShot(a, (c) => c.put(word(a.key), word(a.value), a.cl), putText, putJson))
    .command('del <key>', 'delete a key: a tombstone written at a level, like a put', (y) => y
      .positional('key', { type: 'string', describe: 'integer 0..255; text under partitioner = "hashed"' })
      .option('cl', { alias: 'level', type: 'string', default: defaultLevel, describe: 'ONE, TWO, THREE, QUORUM or ALL' }),
    (a) => oneShot(a, (c) => c.del(word(a.key), a.cl), delText, delJson))
    .command('repair', 'an anti-entropy round of one replica with every peer, now: keys sent and received per peer (exit 1 if a peer could not be reached)', (y) => y
      .option('node', { type: 'string', describe: 'the replica that runs it (default: the coordinator)' }),
    (a) => oneShot(a, (c) => c.repair(a.node), repairText, repairJson, (r) => (r.ok ? exitOk : exitClusterError)))
    .command('local <key>', 'one replica\'s own stored version of a key, without coordination', (y) => y
      .positional('key', { type: 'string', describe: 'integer 0..255; text under partitioner = "hashed"' })
      .option('node', { type: 'string', demandOption: true, describe: 'the replica to ask' }),
    (a) => oneShot(a, (c) => c.local(word(a.key), a.node), localText, localJson))
    .command('ring', 'the ring as a replica reports it: epoch, members with address, state, UP/DOWN and the slots each owns and holds', (y) => y
      .option('node', { type: 'string', describe: 'the replica to ask (default: the first in nodes.toml order that answers)' })
      .command('plan', 'what a ring change would do, computed from the live ring; nothing changes', (p) => p
        .command('join <name>', 'a new member, appended to the ring order', (j) => j
          .positional('name', { type: 'string', demandOption: true })
          .option('host', { type: 'string', demandOption: true, describe: 'the address peers and clients send to' })
          .option('port', { type: 'number', demandOption: true, describe: 'its UDP port' }),
        (a) => ringPlan(a, { op: 'join', name: a.name, host: a.host, port: a.port }))
        .command('leave <name>', 'a live member hands its copies over and leaves', (l) => l.positional('name', { type: 'string', demandOption: true }),
          (a) => ringPlan(a, { op: 'leave', name: a.name }))
        .command('replace <dead> <name>', 'a new member takes a dead member\'s place (and slots) in the ring order', (r) => r
          .positional('dead', { type: 'string', demandOption: true })
          .positional('name', { type: 'string', demandOption: true })
          .option('host', { type: 'string', demandOption: true, describe: 'the address peers and clients send to (may be the dead member\'s)' })
          .option('port', { type: 'number', demandOption: true, describe: 'its UDP port' }),
        (a) => ringPlan(a, { op: 'replace', dead: a.dead, name: a.name, host: a.host, port: a.port }))
        .command('remove <dead>', 'a dead member leaves; the surviving replicas of its slots are the sources', (r) => r.positional('dead', { type: 'string', demandOption: true }),
          (a) => ringPlan(a, { op: 'remove', name: a.dead }))
        .demandCommand(1, 'ring plan: say which change: join, leave, replace or remove'),
      () => {}),
    (a) => oneShot(a, (c) => liveRing(c, a.node), ringText, ringJson))
    .command('state', 'every replica\'s view, merged: ring ranges short of replicas, who sees whom DOWN, rates, p99, hints, anti-entropy, slow requests (exit 1 when no replica answers)', () => {},
      (a) => oneShot(a, (c) => fetchClusterView(c), (v) => renderTop(v, process.stdout.columns ?? 120), (v) => ({ ok: true, ...v }),
        (v) => (v.unreachable.length === v.replicas.length ? exitClusterError : exitOk)))
    .command('top', 'kvc state redrawn every second on the terminal (q quits)', () => {}, (a) => top(a))
    .command('client <action> <id>', 'admin: issue a credential (add, with --role) or revoke one (revoke), on every replica', (y) => y
      .positional('action', { type: 'string', choices: ['add', 'revoke'] })
      .positional('id', { type: 'string', describe: 'the client\'s name: 1..64 of A-Z a-z 0-9 _ . @ -' })
      .option('role', { type: 'string', choices: ['read', 'write', 'admin'], describe: 'read: get, local; write: read + put, del; admin: write + status, repair, client' })
      .option('out', { type: 'string', describe: 'where add writes the credential (default: ./<id>.credentials; never over an existing file)' })
      .check((a) => (a.action !== 'add' || a.role !== undefined ? true : 'client add needs --role read|write|admin')),
    (a) => (a.action === 'add' ? clientAdd({ ...a, id: word(a.id), role: a.role! }) : clientRevoke({ ...a, id: word(a.id) })))
    .command('keyring <action> [id]', 'admin: rotate the replicas\' peer key: list; install (a new key beside the one in use); use <id> (refused unless every replica holds it); remove <id> (refused while any replica seals with it)', (y) => y
      .positional('action', { type: 'string', choices: ['list', 'install', 'use', 'remove'] })
      .positional('id', { type: 'number', describe: 'the key id (use, remove)' }),
    (a) => keyring({ ...a, action: a.action! }))
    .command('dashboard', 'a local read-only web page of every replica\'s view, pushed live (Ctrl-C stops it)', (y) => y
      .option('port', { type: 'number', default: dashboardPortDefault, describe: 'TCP port to serve on (0: any free one)' })
      .option('host', { type: 'string', default: dashboardHostDefault, describe: 'address to bind (default loopback only)' }),
    async (a) => {
      try {
        const d = await startDashboard({ ...clientOptions(a), port: a.port, host: a.host });
        console.log(`kvc dashboard: ${d.url} (read-only; Ctrl-C stops it)`);
        await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
        await d.close();
      } catch (e) { reportError(a, e); }
    })
    .command('status', 'a replica\'s view: ring ranges and replicas UP/DOWN, hints pending, keys, log, dropped datagrams', () => {},
      (a) => oneShot(a, (c) => c.status(), statusText, (s) => ({ ok: true, ...s })))
    .epilog('Exit status: 0 success (found or not); 1 the cluster answered with an error or did not answer; 2 input refused before sending (bad key, value, level, replica or config).')
    .strict()
    .version(false)
    .help()
    .alias('h', 'help')
    .fail((msg, err) => {
      const message = (msg ?? (err instanceof Error ? err.message : String(err))).replace(/\u0000\d+/g, (w) => JSON.stringify(word(w)));
      if (wantsJson(argv)) console.log(JSON.stringify({ ok: false, error: 'InvalidRequest', message }));
      else console.error(`${message} (kvc --help shows the usage)`);
      process.exit(exitBadInput);
    })
    .parseAsync();
}

await main();
