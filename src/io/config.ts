// nodes.toml -> ClusterConfig. Every field is checked, and a bad file gets one ConfigError naming
// the field, what was expected and what was found; never a stack trace.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { keyBytesMaxDefault, partitioners, type PartitionerName } from '../core/keyspace.js';
import {
  antiEntropyIntervalMsMax, clientDeadlineMsMax, clientDeadlineSlackMs, keyBytesMaxCeiling, nodeNameBytesMax, nodesMax, valueBytesMaxCeiling,
} from '../core/limits.js';
import { addressOf, repairModes, type ClusterConfig, type NodeSpec, type RepairMode } from '../core/types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Bounds on the tuning fields: wide enough for any sane cluster, tight enough to catch a typo'd unit.
export const gossipIntervalMsMax = 60_000;
export const downAfterMsMax = 3_600_000;
export const requestTimeoutMsMax = 600_000;
export const maxHintWindowMsMax = 7 * 24 * 3_600_000;
export const hintSweepIntervalMsMax = 3_600_000;
/** max_clock_skew_ms: from a millisecond up to a minute (CockroachDB's max-offset is 500 ms). */
export const maxClockSkewMsMax = 60_000;
export const portMin = 1;
export const portMax = 65_535;

const topLevelKeys = [
  'replication_factor', 'repair_mode', 'read_repair_blocking', 'data_dir', 'cookie_file',
  'gossip_interval_ms', 'down_after_ms', 'write_timeout_ms', 'read_timeout_ms',
  'max_hint_window_ms', 'hint_sweep_interval_ms', 'anti_entropy_interval_ms', 'value_bytes_max', 'max_clock_skew_ms', 'nodes',
  'trace_probability', 'slow_request_ms', 'partitioner', 'key_bytes_max',
] as const;
const nodeKeys = ['name', 'host', 'port', 'listen', 'metrics_port'] as const;
const nodeNamePattern = /^[A-Za-z0-9_.-]+$/;
const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const ipv4Pattern = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}$`);

type Table = Record<string, unknown>;

/** Parses and checks the text of a nodes.toml; dataDir and cookieFile are resolved against baseDir. */
export function parseConfig(text: string, source = 'nodes.toml', baseDir = '.'): ClusterConfig {
  const top = new Fields(source, '', parseToml(text, source));
  top.refuseUnknownKeys(topLevelKeys);
  const repairMode = top.oneOf('repair_mode', repairModes) as RepairMode;
  const readRepairBlocking = top.boolean('read_repair_blocking');
  const dataDir = resolve(baseDir, top.path('data_dir'));
  const cookieFile = resolve(baseDir, top.path('cookie_file'));
  const gossipIntervalMs = top.integer('gossip_interval_ms', 1, gossipIntervalMsMax);
  const downAfterMs = top.integer('down_after_ms', 1, downAfterMsMax);
  if (downAfterMs <= gossipIntervalMs) {
    top.failWith('down_after_ms', `more than gossip_interval_ms (${gossipIntervalMs}), so a live peer is never marked down between two heartbeats`, String(downAfterMs));
  }
  const writeTimeoutMs = top.integer('write_timeout_ms', 1, requestTimeoutMsMax);
  const readTimeoutMs = top.integer('read_timeout_ms', 1, requestTimeoutMsMax);
  for (const [field, ms] of [['write_timeout_ms', writeTimeoutMs], ['read_timeout_ms', readTimeoutMs]] as const) {
    // Else every client's default deadline would be past what a coordinator accepts (InvalidRequest).
    if (ms + clientDeadlineSlackMs > clientDeadlineMsMax) {
      top.failWith(field, `at most ${clientDeadlineMsMax - clientDeadlineSlackMs} (a client waits this plus ${clientDeadlineSlackMs} ms, and a request may live at most ${clientDeadlineMsMax} ms)`, String(ms));
    }
  }
  const maxHintWindowMs = top.integer('max_hint_window_ms', 1, maxHintWindowMsMax);
  const hintSweepIntervalMs = top.integer('hint_sweep_interval_ms', 1, hintSweepIntervalMsMax);
  const antiEntropyIntervalMs = top.integer('anti_entropy_interval_ms', 0, antiEntropyIntervalMsMax, ' (0 turns anti-entropy off)');
  const valueBytesMax = top.integer('value_bytes_max', 1, valueBytesMaxCeiling);
  const maxClockSkewMs = top.integer('max_clock_skew_ms', 1, maxClockSkewMsMax);
  // Optional (older files lack them): sampling of traces, and the slow-request log; both off by default.
  const traceProbability = top.get('trace_probability') === undefined ? 0 : top.probability('trace_probability');
  const slowRequestMs = top.get('slow_request_ms') === undefined ? 0 : top.integer('slow_request_ms', 0, requestTimeoutMsMax, ' (0 turns the slow-request log off)');
  // Optional, so every nodes.toml written before them keeps its meaning: byte-ordered keys 0..255.
  const partitioner = top.get('partitioner') === undefined ? 'byte-ordered' : top.oneOf('partitioner', partitioners) as PartitionerName;
  const keyBytesMax = top.get('key_bytes_max') === undefined ? keyBytesMaxDefault : top.integer('key_bytes_max', 1, keyBytesMaxCeiling);
  if (partitioner !== 'hashed' && top.get('key_bytes_max') !== undefined) {
    top.failWith('key_bytes_max', 'no key_bytes_max unless partitioner = "hashed" (byte-ordered keys are the integers 0..255)', String(keyBytesMax));
  }
  const nodes = parseNodes(top);
  const replicationFactor = top.integer('replication_factor', 1, nodes.length, ' (at most the number of nodes)');
  return Object.freeze({
    nodes: Object.freeze(nodes), partitioner, keyBytesMax, replicationFactor, repairMode, readRepairBlocking,
    gossipIntervalMs, downAfterMs, writeTimeoutMs, readTimeoutMs, maxHintWindowMs, hintSweepIntervalMs, antiEntropyIntervalMs,
    valueBytesMax, maxClockSkewMs, dataDir, cookieFile, traceProbability, slowRequestMs,
  });
}

/** Reads and checks a nodes.toml; relative paths in it are relative to the file. */
export function loadConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e);
    throw new ConfigError(`${path}: cannot read the cluster config: ${why}`);
  }
  return parseConfig(text, path, dirname(path));
}

export function nodeIndexByName(cfg: ClusterConfig, name: string): number {
  const i = cfg.nodes.findIndex((n) => n.name === name);
  if (i < 0) {
    const known = cfg.nodes.map((n) => n.name).join(', ');
    throw new ConfigError(`node name: expected one of ${known}, got ${JSON.stringify(name)}`);
  }
  return i;
}

function parseToml(text: string, source: string): Table {
  try {
    return parse(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'throw' });
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = (e.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new ConfigError(`${source}: line ${e.line}, column ${e.column}: invalid TOML: ${reason}\n${e.codeblock}`);
    }
    throw new ConfigError(`${source}: invalid TOML: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parseNodes(top: Fields): NodeSpec[] {
  const list = top.get('nodes');
  if (list === undefined) top.fail('nodes', `1..${nodesMax} [[nodes]] tables`, list);
  if (!Array.isArray(list)) top.fail('nodes', `an array of [[nodes]] tables`, list);
  if (list.length < 1 || list.length > nodesMax) top.failWith('nodes', `1..${nodesMax} [[nodes]] tables`, `${list.length}`);
  const nodes: NodeSpec[] = [];
  const indexByName = new Map<string, number>();
  const indexByAddress = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    const path = `nodes[${i}]`;
    if (!isTable(entry)) top.fail(path, 'a table with name, host and port', entry);
    const f = new Fields(top.source, `${path}.`, entry);
    f.refuseUnknownKeys(nodeKeys);
    const name = f.nodeName('name');
    const host = f.host('host');
    const port = f.integer('port', portMin, portMax);
    // Optional: the address to bind when it is not host; Prometheus text over HTTP on this TCP port of the node's host (off when absent).
    const listen = f.get('listen') === undefined ? undefined : f.listenAddress('listen');
    const metricsPort = f.get('metrics_port') === undefined ? undefined : f.integer('metrics_port', portMin, portMax);
    const spec: NodeSpec = Object.freeze({ name, host, port, ...(listen === undefined ? {} : { listen }), ...(metricsPort === undefined ? {} : { metricsPort }) });
    const sameName = indexByName.get(spec.name);
    if (sameName !== undefined) f.failWith('name', `a name no other node has`, `${JSON.stringify(spec.name)} (also the name of nodes[${sameName}])`);
    const address = addressOf(spec);
    const sameAddress = indexByAddress.get(address);
    if (sameAddress !== undefined) top.failWith(path, `a host:port no other node has`, `${address} (also the address of nodes[${sameAddress}])`);
    indexByName.set(spec.name, i);
    indexByAddress.set(address, i);
    nodes.push(spec);
  });
  return nodes;
}

/** Typed reads of one table's fields; every failure names `<source>: <prefix><field>`. */
class Fields {
  constructor(readonly source: string, private readonly prefix: string, private readonly table: Table) {}

  get(key: string): unknown {
    return Object.hasOwn(this.table, key) ? this.table[key] : undefined;
  }

  fail(key: string, expected: string, got: unknown): never {
    return this.failWith(key, expected, describe(got));
  }

  failWith(key: string, expected: string, gotText: string): never {
    throw new ConfigError(`${this.source}: ${this.prefix}${key}: expected ${expected}, got ${gotText}`);
  }

  refuseUnknownKeys(known: readonly string[]): void {
    for (const key of Object.keys(this.table)) {
      if (!known.includes(key)) {
        throw new ConfigError(`${this.source}: ${this.prefix}${key}: unknown key (known keys: ${known.join(', ')})`);
      }
    }
  }

  integer(key: string, min: number, max: number, why = ''): number {
    const v = this.get(key);
    if (typeof v !== 'bigint' || v < BigInt(min) || v > BigInt(max)) this.fail(key, `an integer in ${min}..${max}${why}`, v);
    return Number(v);
  }

  /** A number in 0..1 (a TOML float, or the integers 0 and 1). */
  probability(key: string): number {
    const v = this.get(key);
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) this.fail(key, 'a number in 0..1 (0: no request is traced unasked)', v);
    return n;
  }

  boolean(key: string): boolean {
    const v = this.get(key);
    if (typeof v !== 'boolean') this.fail(key, 'true or false', v);
    return v;
  }

  oneOf(key: string, options: readonly string[]): string {
    const v = this.get(key);
    if (typeof v !== 'string' || !options.includes(v)) this.fail(key, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, v);
    return v;
  }

  path(key: string): string {
    const v = this.get(key);
    if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) this.fail(key, 'a non-empty path', v);
    return v;
  }

  nodeName(key: string): string {
    const v = this.get(key);
    const expected = `a name of 1..${nodeNameBytesMax} characters from A-Z a-z 0-9 _ . -`;
    if (typeof v !== 'string' || !nodeNamePattern.test(v) || Buffer.byteLength(v, 'utf8') > nodeNameBytesMax) this.fail(key, expected, v);
    return v;
  }

  /** An IPv4 address or a hostname (resolved at start) that peers and clients can send to. */
  host(key: string): string {
    const v = this.get(key);
    const expected = 'an IPv4 address like "10.0.0.3" or a hostname like "db3.example.net"';
    if (typeof v !== 'string' || !(ipv4Pattern.test(v) || isHostname(v))) this.fail(key, expected, v);
    if (v === '0.0.0.0') this.fail(key, 'an address peers can send to, not 0.0.0.0 (use listen = "0.0.0.0" to bind every interface)', v);
    return v;
  }

  /** The address to bind: any IPv4 address, 0.0.0.0 included. */
  listenAddress(key: string): string {
    const v = this.get(key);
    if (typeof v !== 'string' || !ipv4Pattern.test(v)) this.fail(key, 'an IPv4 address to bind, like "0.0.0.0" or "10.0.0.3"', v);
    return v;
  }
}

/** RFC 1123 hostnames: dot-separated labels of letters, digits and inner hyphens, 253 characters at most, not all digits. */
const hostnameLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export function isHostname(v: string): boolean {
  if (v.length === 0 || v.length > 253 || /^[0-9.]+$/.test(v)) return false;
  return v.replace(/\.$/, '').split('.').every((label) => hostnameLabel.test(label));
}

export function isIpv4(v: string): boolean {
  return ipv4Pattern.test(v);
}

function isTable(x: unknown): x is Table {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Date);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (typeof v === 'string') return `${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} (a string)`;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return `${v} (a float)`;
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  return 'a table';
}
