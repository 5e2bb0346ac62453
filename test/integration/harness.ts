// A real ringkv cluster for the integration tests: four kvd processes under pm2, real UDP on
// 127.0.0.1, in a temp dir of their own (nodes.toml, data, cookie, PM2_HOME). Never the default
// ~/.pm2: every pm2 command gets this cluster's PM2_HOME. teardown() (`pm2 kill`, then rm -rf) runs
// from the specs' after(), and again on process exit, so no daemon or replica outlives the run.
// KV_IT_LOGS=1 prints the pm2 logs at teardown; KV_IT_VERBOSE=1 prints the kill -9 test's counts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KvClient } from '../../src/client/client.js';
import type { ClientReply, StatusReport } from '../../src/core/messages.js';
import type { Codec } from '../../src/io/codec.js';
import type { Key, RepairMode } from '../../src/core/types.js';
import { slotOfText } from '../../src/core/keyspace.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pm2Bin = join(repoRoot, 'node_modules/pm2/bin/pm2');
const kvdJs = join(repoRoot, 'dist/cli/kvd.js');
const kvcJs = join(repoRoot, 'dist/cli/kvc.js');
export const startJs = join(repoRoot, 'dist/cli/start-cluster.js');

export const replicaNames = ['replica-1', 'replica-2', 'replica-3', 'replica-4'] as const;
/** replica-1 … replica-N (clusters other than the default four have more). */
export type ReplicaName = string;
export const replicationFactor = 3;
export const gossipIntervalMs = 100;
export const downAfterMs = 500;
export const requestTimeoutMs = 1_000;

/** Ports are taken from a random base in this range, checked free. */
const portBaseMin = 22_000;
const portBaseMax = 29_000;
const portPickAttemptsMax = 20;
/** From `pm2 start` to every replica answering status. */
const clusterReadyMs = 20_000;
const pm2CommandMs = 30_000;
const kvcCommandMs = 20_000;
/** After `pm2 kill`: how long a replica or the daemon may take to go before it is SIGKILLed. */
const processExitMs = 5_000;
/** Deadline of the harness's own status requests (a replica answers them at once, or is not running). */
const adminTimeoutMs = 1_000;

export interface ClusterOptions {
  /** repair_mode in the temp nodes.toml. Default hinted-handoff. */
  repairMode?: RepairMode;
  /** KV_REPAIR for `pm2 start`: the ecosystem file's per-replica override. */
  repairOverride?: string;
  /**
   * anti_entropy_interval_ms in the temp nodes.toml. Default 0 (off), so a test of hints or read
   * repair sees that mechanism alone; the anti-entropy tests turn it on.
   */
  antiEntropyIntervalMs?: number;
  /**
   * Runs before pm2 starts, given the cluster's temp dir (data in <dir>/data/<replica>), e.g. to
   * mount a small filesystem as one replica's data dir. It returns what undoes it (an unmount),
   * which teardown runs once every process is gone and before the temp dir is removed, also on failure.
   */
  prepare?: (dir: string) => () => void;
  /** Give replica-1 a metrics_port (a free TCP port); Cluster.metricsPort says which. */
  metricsPort?: boolean;
  /** Replicas in the ring (default 4), named replica-1 … replica-N, RF 3 always. */
  nodes?: number;
  /** max_clock_skew_ms (default 500): a restarted replica serves writes 2 × this after its start. */
  maxClockSkewMs?: number;
  /** partitioner in the temp nodes.toml; absent: no line (byte-ordered, as every file before it). */
  partitioner?: 'byte-ordered' | 'hashed';
  /** slow_request_ms (absent: no line, the slow-request log off). */
  slowRequestMs?: number;
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

export interface Pm2Process { name: string; pid: number; status: string; restarts: number; args: string[] }

/** One of pm2's process events ('online': pm2 counts the process as up, after kvd's 'ready'; 'exit'), with pm2's own time. */
export interface Pm2Event { event: string; name: string; atMs: number }

/** pm2's event bus, watched from a child process of the test's own (pm2's API reads PM2_HOME once, at load). */
export interface Pm2Events {
  /** Every event since the watch began, in order. */
  readonly events: Pm2Event[];
  close(): Promise<void>;
}

/** One interactive kvc shell on a pipe: one result line per command. */
export interface Shell {
  /** Writes one command line and resolves with the one result line it prints. */
  send(line: string): Promise<string>;
  /** Closes stdin (end of input, like Ctrl-D) and waits for the exit. */
  end(): Promise<RunResult>;
}

/** The replicas of a key by the design's ring: 4 equal ranges of 64 slots, owner then the next RF-1 (a text key's slot by murmur3). */
export function replicasOf(key: Key): ReplicaName[] {
  const owner = Math.floor((typeof key === 'string' ? slotOfText(key) : key) / 64);
  return Array.from({ length: replicationFactor }, (_, j) => replicaNames[(owner + j) % replicaNames.length]!);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns something other than undefined/false, or throws after timeoutMs naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'never probed';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e instanceof Error ? `${e.name}: ${e.message}` : e;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last probe: ${String(last)})`);
    await sleep(intervalMs);
  }
}

/** A UDP socket of the test's own that sends raw datagrams and keeps every reply it can decode; the caller closes it. */
export async function rawSocket(codec: Codec): Promise<{ socket: Socket; replies: ClientReply[] }> {
  const socket = createSocket('udp4');
  const replies: ClientReply[] = [];
  socket.on('message', (datagram) => {
    const decoded = codec.decodeMany(datagram);
    if (decoded.ok) replies.push(...(decoded.msgs as ClientReply[]));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, replies };
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    const v = await p;
    throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('expected a rejection')) throw e;
    return e as Error;
  }
}

const live = new Set<Cluster>();
let exitGuardInstalled = false;

function installExitGuard(): void {
  if (exitGuardInstalled) return;
  exitGuardInstalled = true;
  process.on('exit', () => { for (const c of live) c.teardownSync(); });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const c of live) c.teardownSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export class Cluster {
  private readonly clients = new Set<KvClient>();
  /** pm2 event watchers (pm2Events), killed by teardown if the test does not close them. */
  private readonly watchers = new Set<ChildProcess>();
  private admin: KvClient | null = null;
  /** Every pid seen (replicas, daemon), so teardown can make sure they are gone. */
  private readonly pidsSeen = new Set<number>();
  private tornDown = false;
  /** What ClusterOptions.prepare did, undone at teardown (sync, so the exit guard can run it too). */
  private readonly undo: (() => void)[] = [];

  private constructor(
    readonly dir: string,
    readonly configPath: string,
    readonly pm2Home: string,
    readonly ports: readonly number[],
    private readonly env: NodeJS.ProcessEnv,
    /** replica-1's Prometheus port, if the cluster was started with metricsPort. */
    readonly metricsPort?: number,
    readonly names: readonly ReplicaName[] = replicaNames,
  ) {}

  /** Writes the temp nodes.toml, starts pm2 with the repo's ecosystem file, waits until every replica answers status. */
  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    for (const built of [kvdJs, kvcJs]) {
      if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first (npm test builds before mocha)`);
    }
    warnIfStale();
    const dir = mkdtempSync(join(tmpdir(), 'ringkv-it-'));
    let cluster: Cluster | null = null;
    try {
      const names = Array.from({ length: opts.nodes ?? replicaNames.length }, (_, i) => `replica-${i + 1}`);
      const ports = await pickFreePorts(names.length);
      const configPath = join(dir, 'nodes.toml');
      const metricsPort = opts.metricsPort === true ? await freeTcpPort() : undefined;
      const toml = clusterToml(ports, opts.repairMode ?? 'hinted-handoff', names, opts.antiEntropyIntervalMs ?? 0, metricsPort, opts.maxClockSkewMs ?? 500);
      const extra = [
        ...(opts.partitioner === undefined ? [] : [`partitioner = "${opts.partitioner}"`]),
        ...(opts.slowRequestMs === undefined ? [] : [`slow_request_ms = ${opts.slowRequestMs}`]),
      ];
      writeFileSync(configPath, [...extra, toml].join('\n'));
      const pm2Home = join(dir, 'pm2');
      mkdirSync(pm2Home);
      const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: pm2Home, KV_CONFIG: configPath };
      delete env.KV_REPAIR;
      delete env.NODE_OPTIONS; // mocha's tsx loader is for the tests, not for kvd, kvc or pm2
      delete env.KV_LOG_LEVEL;
      if (opts.repairOverride !== undefined) env.KV_REPAIR = opts.repairOverride;
      cluster = new Cluster(dir, configPath, pm2Home, ports, env, metricsPort, names);
      live.add(cluster);
      installExitGuard();
      if (opts.prepare !== undefined) cluster.undo.push(opts.prepare(dir));
      await cluster.pm2('start', 'ecosystem.config.js');
      await cluster.checkApps();
      await cluster.waitUntilServing();
      return cluster;
    } catch (e) {
      if (cluster !== null) await cluster.teardown();
      else rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  // ---- pm2 ----------------------------------------------------------------------------------------

  /** Runs the repo's pm2 with this cluster's PM2_HOME; throws on a non-zero exit. */
  async pm2(...args: string[]): Promise<string> {
    const r = await run(process.execPath, [pm2Bin, ...args], { env: this.env, timeoutMs: pm2CommandMs });
    if (r.code !== 0) throw new Error(`pm2 ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Runs the repo's pm2 with this cluster's PM2_HOME and extra environment; the result, whatever the exit. */
  pm2Run(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return run(process.execPath, [pm2Bin, ...args], { env: { ...this.env, ...extraEnv }, timeoutMs: pm2CommandMs });
  }

  /** What `npm start` runs after the build (dist/cli/start-cluster.js), with this cluster's PM2_HOME and nodes.toml. */
  startScript(args: readonly string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return run(process.execPath, [startJs, ...args], { env: { ...this.env, ...extraEnv }, timeoutMs: pm2CommandMs * 2 });
  }

  /** `pm2 stop <name>`: kvd gets SIGINT and stops cleanly; pm2 does not restart it. */
  async stop(name: ReplicaName): Promise<void> {
    await this.pm2('stop', name);
  }

  /** `pm2 start <name>` of a stopped replica; resolves once pm2 has launched it (not once it serves). */
  async start(name: ReplicaName): Promise<void> {
    await this.pm2('start', name);
  }

  /** Watches pm2's event bus (what `pm2 reload` and `pm2 restart` wait for); resolves once it is subscribed. */
  async pm2Events(): Promise<Pm2Events> {
    const script = `const pm2 = require(${JSON.stringify(join(repoRoot, 'node_modules/pm2'))});
      pm2.launchBus((err, bus) => {
        if (err) { console.error(err.message); process.exit(1); }
        bus.on('process:event', (e) => console.log(JSON.stringify({ event: e.event, name: e.process.name, atMs: e.at })));
        console.log('{"subscribed":true}');
      });`;
    const child = spawn(process.execPath, ['-e', script], { cwd: repoRoot, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.watchers.add(child);
    const events: Pm2Event[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pm2 event bus: not subscribed within ${pm2CommandMs} ms: ${stderr}`)), pm2CommandMs);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const o = JSON.parse(line) as Pm2Event & { subscribed?: boolean };
        if (o.subscribed === true) { clearTimeout(timer); resolve(); } else events.push(o);
      });
      void exited.then(() => { clearTimeout(timer); reject(new Error(`pm2 event bus: the watcher exited: ${stderr}`)); });
    });
    return {
      events,
      close: async () => {
        child.kill('SIGTERM');
        await exited;
        this.watchers.delete(child);
      },
    };
  }

  /** Each replica's pm2 metrics (axm_monitor in `pm2 jlist`: what pm2 monit and pm2 show display), name -> value. */
  async pm2Metrics(): Promise<Record<string, Record<string, unknown>>> {
    const out = await this.pm2('jlist');
    const list = JSON.parse(out.slice(out.indexOf('['))) as { name: string; pm2_env: { axm_monitor?: Record<string, { value: unknown }> } }[];
    return Object.fromEntries(list.map((p) => [p.name, Object.fromEntries(Object.entries(p.pm2_env.axm_monitor ?? {}).map(([k, v]) => [k, v.value]))]));
  }

  /** The apps as `pm2 jlist` reports them. */
  async processes(): Promise<Pm2Process[]> {
    const out = await this.pm2('jlist');
    const json = out.slice(out.indexOf('['));
    const list = JSON.parse(json) as { name: string; pid: number; pm2_env: { status: string; restart_time: number; args?: string[] } }[];
    const procs = list.map((p) => ({ name: p.name, pid: p.pid, status: p.pm2_env.status, restarts: p.pm2_env.restart_time, args: p.pm2_env.args ?? [] }));
    for (const p of procs) if (p.pid > 0) this.pidsSeen.add(p.pid);
    return procs;
  }

  /**
   * SIGKILLs every replica; pm2 restarts them. Pids from `pm2 jlist`, or from an earlier `processes()`
   * (so the kill can land at a precise moment). Returns the killed processes.
   */
  async kill9All(running?: readonly Pm2Process[]): Promise<Pm2Process[]> {
    const procs = (running ?? await this.processes()).filter((p) => p.pid > 0);
    if (procs.length !== this.names.length) throw new Error(`kill9All: expected ${this.names.length} running replicas, pm2 lists ${JSON.stringify(procs)}`);
    for (const p of procs) process.kill(p.pid, 'SIGKILL');
    return procs;
  }

  /** Waits until pm2 runs every replica under a pid other than the given ones (after kill9All). */
  async waitUntilRestarted(killed: readonly Pm2Process[], timeoutMs = clusterReadyMs): Promise<Pm2Process[]> {
    const old = new Set(killed.map((p) => p.pid));
    return waitFor('pm2 to restart every killed replica', async () => {
      const procs = await this.processes();
      const ok = procs.length === this.names.length && procs.every((p) => p.status === 'online' && p.pid > 0 && !old.has(p.pid));
      return ok ? procs : false;
    }, timeoutMs, 200);
  }

  // ---- clients ------------------------------------------------------------------------------------

  /** A KvClient bound to one coordinator; closed by teardown if the test does not close it. */
  async client(coordinator: ReplicaName, timeoutMs?: number): Promise<KvClient> {
    const c = await KvClient.open({ configPath: this.configPath, coordinator, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    this.clients.add(c);
    return c;
  }

  /** A replica's status (not a coordinated request: it only reads that replica's own view). */
  async status(name: ReplicaName): Promise<StatusReport> {
    this.admin ??= await this.client('replica-1', adminTimeoutMs);
    return this.admin.status(name);
  }

  /** Whether `observer` currently sees `peer` UP. */
  async sees(observer: ReplicaName, peer: ReplicaName): Promise<boolean> {
    const s = await this.status(observer);
    const p = s.peers.find((x) => x.name === peer);
    if (p === undefined) throw new Error(`${observer}'s status lists no peer ${peer}`);
    return p.up;
  }

  /**
   * Every replica answers status, sees every other replica UP and serves writes (a restarted one is
   * past its wait-out). On timeout the error carries the replicas' stderr.
   */
  async waitUntilServing(timeoutMs = clusterReadyMs): Promise<void> {
    try {
      await waitFor('every replica to answer status, see all peers UP and serve writes', async () => {
        const all = await Promise.all(this.names.map((n) => this.status(n)));
        return all.every((s) => s.writesServedInMs === 0 && s.peers.every((p) => p.up));
      }, timeoutMs, 100);
    } catch (e) {
      const stderr = Object.entries(this.logs()).filter(([f, t]) => f.endsWith('-error.log') && t.length > 0)
        .map(([f, t]) => `${f}:\n${t.split('\n').slice(-10).join('\n')}`);
      if (e instanceof Error && stderr.length > 0) e.message += `\n${stderr.join('\n')}`;
      throw e;
    }
  }

  /** pm2 runs one app per replica, each given this cluster's nodes.toml (ecosystem.config.js resolves KV_CONFIG). */
  private async checkApps(): Promise<void> {
    const apps = await this.processes();
    const names = apps.map((p) => p.name).sort();
    const expected = [...this.names].sort();
    if (JSON.stringify(names) !== JSON.stringify(expected)) throw new Error(`pm2 runs ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`);
    for (const p of apps) {
      const config = p.args[p.args.indexOf('--config') + 1];
      if (config !== this.configPath) throw new Error(`pm2 started ${p.name} with --config ${config}, expected ${this.configPath}: does ecosystem.config.js still resolve KV_CONFIG?`);
    }
  }

  /** The argv of kvc on this cluster, for a test that runs it itself (in a terminal, say). */
  kvcArgv(args: readonly string[]): string[] {
    return [process.execPath, kvcJs, '--config', this.configPath, ...args];
  }

  /** `node dist/cli/kvc.js --config <temp nodes.toml> …args`, stdin piped in if given. */
  kvc(args: readonly string[], stdin?: string): Promise<RunResult> {
    return run(process.execPath, [kvcJs, '--config', this.configPath, ...args], { env: this.env, timeoutMs: kvcCommandMs, stdin });
  }

  /** A kvc shell on a pipe, driven one line at a time. */
  shell(args: readonly string[]): Shell {
    const child = spawn(process.execPath, [kvcJs, '--config', this.configPath, ...args], { cwd: repoRoot, env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const waiting: ((line: string) => void)[] = [];
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      stdout += `${line}\n`;
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), pm2CommandMs);
    return {
      send: (line) => {
        const next = lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`kvc shell: no result line for ${JSON.stringify(line)} within ${kvcCommandMs} ms; stderr: ${stderr}`)), kvcCommandMs);
          waiting.push((l) => { clearTimeout(t); resolve(l); });
        });
        child.stdin.write(`${line}\n`);
        return next;
      },
      end: async () => {
        child.stdin.end();
        const code = await exited;
        clearTimeout(timer);
        return { code, stdout, stderr };
      },
    };
  }

  // ---- logs ---------------------------------------------------------------------------------------

  /** The pm2 log files (PM2_HOME/logs), by file name: replica-1-out.log, replica-1-error.log, … */
  logs(): Record<string, string> {
    const dir = join(this.pm2Home, 'logs');
    const out: Record<string, string> = {};
    if (!existsSync(dir)) return out;
    for (const f of readdirSync(dir).sort()) out[f] = readFileSync(join(dir, f), 'utf8');
    return out;
  }

  /** One replica's stdout log. */
  log(name: ReplicaName): string {
    return this.logs()[`${name}-out.log`] ?? '';
  }

  // ---- teardown -----------------------------------------------------------------------------------

  /** `pm2 kill` with this PM2_HOME, makes sure every process it ran is gone, removes the temp dir. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    if (process.env.KV_IT_LOGS) for (const [file, text] of Object.entries(this.logs())) console.log(`---- ${file}\n${text}`);
    await Promise.all([...this.clients].map((c) => c.close().catch(() => {})));
    this.clients.clear();
    for (const w of this.watchers) w.kill('SIGKILL');
    this.watchers.clear();
    this.admin = null;
    try {
      await this.processes();
    } catch {
      // no daemon (start failed early): nothing to list
    }
    this.rememberDaemonPid();
    await run(process.execPath, [pm2Bin, 'kill'], { env: this.env, timeoutMs: pm2CommandMs }).catch(() => undefined);
    const deadline = Date.now() + processExitMs;
    while ([...this.pidsSeen].some(isAlive) && Date.now() < deadline) await sleep(50);
    this.finish();
  }

  /** The same, synchronously, for process exit and signals. */
  teardownSync(): void {
    if (this.tornDown) return;
    for (const w of this.watchers) w.kill('SIGKILL');
    this.rememberDaemonPid();
    spawnSync(process.execPath, [pm2Bin, 'kill'], { env: this.env, timeout: pm2CommandMs, stdio: 'ignore' });
    this.finish();
  }

  private finish(): void {
    for (const pid of this.pidsSeen) {
      if (!isAlive(pid)) continue;
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    }
    for (const undo of this.undo.splice(0)) {
      try {
        undo();
      } catch (e) {
        console.warn(`  (integration: teardown could not undo a prepare step: ${e instanceof Error ? e.message : String(e)})`);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.tornDown = true;
    live.delete(this);
  }

  private rememberDaemonPid(): void {
    try {
      const pid = Number(readFileSync(join(this.pm2Home, 'pm2.pid'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) this.pidsSeen.add(pid);
    } catch {
      // no daemon
    }
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

function clusterToml(ports: readonly number[], repairMode: RepairMode, names: readonly string[], antiEntropyIntervalMs: number, metricsPort: number | undefined, maxClockSkewMs: number): string {
  return [
    `replication_factor = ${replicationFactor}`,
    `repair_mode = "${repairMode}"`,
    'read_repair_blocking = true',
    'data_dir = "data"',
    'cookie_file = "data/cookie"',
    `gossip_interval_ms = ${gossipIntervalMs}`,
    `down_after_ms = ${downAfterMs}`,
    `write_timeout_ms = ${requestTimeoutMs}`,
    `read_timeout_ms = ${requestTimeoutMs}`,
    'max_hint_window_ms = 10800000',
    'hint_sweep_interval_ms = 1000',
    `anti_entropy_interval_ms = ${antiEntropyIntervalMs}`,
    'value_bytes_max = 60000',
    `max_clock_skew_ms = ${maxClockSkewMs}`,
    '',
    ...names.map((name, i) => `[[nodes]]\nname = "${name}"\nhost = "127.0.0.1"\nport = ${ports[i]}\n${i === 0 && metricsPort !== undefined ? `metrics_port = ${metricsPort}\n` : ''}`),
  ].join('\n');
}

/** n consecutive UDP ports from a random base, each bound and released to check it is free. */
async function pickFreePorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < portPickAttemptsMax; attempt++) {
    const base = randomInt(portBaseMin, portBaseMax - n + 1);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    const free = await Promise.all(ports.map(udpPortFree));
    if (free.every(Boolean)) return ports;
  }
  throw new Error(`no ${n} free consecutive UDP ports found in ${portBaseMin}..${portBaseMax} after ${portPickAttemptsMax} tries`);
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no TCP port'))));
    });
  });
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export function run(cmd: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number; stdin?: string | undefined; cwd?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: opts.env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.slice(0, 3).join(' ')}: no exit within ${opts.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** dist/ older than src/: the tests would run yesterday's code. Only a warning (npm test always builds). */
function warnIfStale(): void {
  const builtMs = statSync(kvdJs).mtimeMs;
  const newer: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > builtMs) newer.push(p.slice(repoRoot.length + 1));
    }
  };
  walk(join(repoRoot, 'src'));
  if (newer.length > 0) console.warn(`  (integration: dist/ is older than ${newer.slice(0, 3).join(', ')}${newer.length > 3 ? ', …' : ''}; run \`npm run build\`)`);
}
