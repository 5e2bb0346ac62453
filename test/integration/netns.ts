// Hosts for the multi-host test, built from network namespaces: one namespace holds a bridge, and
// each host (and the client machine) is a namespace of its own with one veth on that bridge and an
// address in 10.213.0.0/24, which exists only inside these namespaces. Each host gets its own copy
// of nodes.toml and its secrets (the keyring on a replica host, a credential on a client), its own data dir and its own pm2 (PM2_HOME), as a real machine
// would. teardown() kills every pm2 and process inside, then deletes every namespace (the veths
// and the bridge go with them); it runs from after() and again on process exit.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type RunResult } from './harness.js';

const pm2Bin = join(repoRoot, 'node_modules/pm2/bin/pm2');
const kvcJs = join(repoRoot, 'dist/cli/kvc.js');
export const subnet = '10.213.0';
const commandMs = 30_000;

/** Why namespaces cannot be made here, or null when they can (tried for real, then removed). */
export function namespacesUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = `rkprobe${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error !== undefined) return `no ip command (${add.error.message})`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  const veth = spawnSync('ip', ['-n', probe, 'link', 'add', 'name', 'a', 'type', 'veth', 'peer', 'name', 'b'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', probe]);
  if (veth.status !== 0) return `cannot make a veth pair: ${veth.stderr.trim()}`;
  return null;
}

function sh(args: string[]): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: commandMs });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface HostSpec { name: string; address: string; port: number }

export class NetnsHosts {
  readonly dir: string;
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private tornDown = false;
  private readonly onExit = () => this.teardown();

  constructor(readonly hosts: readonly HostSpec[], readonly clientAddress: string) {
    this.prefix = `rk${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), 'ringkv-hosts-'));
    process.on('exit', this.onExit);
  }

  ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  /** The bridge namespace, one namespace per host and one for the client, all on the bridge. */
  build(): void {
    const bridge = this.ns('br');
    this.addNamespace(bridge);
    sh(['ip', '-n', bridge, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', bridge, 'link', 'set', 'br0', 'up']);
    const machines = [...this.hosts.map((h) => ({ name: h.name, address: h.address })), { name: 'client', address: this.clientAddress }];
    machines.forEach((m, i) => {
      const ns = this.ns(m.name);
      this.addNamespace(ns);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', bridge]);
      sh(['ip', '-n', bridge, 'link', 'set', `port${i}`, 'master', 'br0', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    });
  }

  private addNamespace(ns: string): void {
    sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
  }

  /** A directory of the host's own: its nodes.toml, secrets, data and PM2_HOME. */
  hostDir(host: string): string {
    const d = join(this.dir, host);
    mkdirSync(join(d, 'pm2'), { recursive: true });
    return d;
  }

  /**
   * Writes the host's own copy of the config, and a copy of a secret into its data dir: a replica
   * host gets the cluster's `keyring`, a client machine a `credentials` file, never the keyring.
   */
  install(host: string, toml: string, secret: { keyring: string } | { credentials: string }): void {
    const d = this.hostDir(host);
    writeFileSync(join(d, 'nodes.toml'), toml);
    mkdirSync(join(d, 'data'), { recursive: true });
    if ('keyring' in secret) copyFileSync(secret.keyring, join(d, 'data', 'keyring'));
    else copyFileSync(secret.credentials, join(d, 'data', 'credentials'));
  }

  /** Runs a command inside the host's namespace with its PM2_HOME and KV_CONFIG. */
  exec(host: string, args: readonly string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    const d = this.hostDir(host);
    const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: join(d, 'pm2'), KV_CONFIG: join(d, 'nodes.toml'), ...extraEnv };
    delete env.NODE_OPTIONS;
    delete env.KV_NODES;
    delete env.KV_CREDENTIALS;
    Object.assign(env, extraEnv);
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.ns(host), ...args], { cwd: repoRoot, env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} in ${host}: no exit within ${commandMs} ms`)); }, commandMs);
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      if (stdin !== undefined) child.stdin!.end(stdin);
    });
  }

  async pm2(host: string, ...args: string[]): Promise<string> {
    const r = await this.exec(host, [process.execPath, pm2Bin, ...args]);
    if (r.code !== 0) throw new Error(`pm2 ${args.join(' ')} on ${host} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** The apps this host's pm2 runs. */
  async apps(host: string): Promise<{ name: string; status: string }[]> {
    const out = await this.pm2(host, 'jlist');
    return (JSON.parse(out.slice(out.indexOf('['))) as { name: string; pm2_env: { status: string } }[]).map((p) => ({ name: p.name, status: p.pm2_env.status }));
  }

  /** kvc in the client's namespace, with the client's copy of the config and credential. */
  kvc(args: readonly string[], stdin?: string, machine = 'client'): Promise<RunResult> {
    return this.exec(machine, [process.execPath, kvcJs, '--config', join(this.hostDir(machine), 'nodes.toml'), ...args], stdin);
  }

  /** Every line a host's replicas logged. */
  logs(host: string): string {
    const d = join(this.hostDir(host), 'pm2', 'logs');
    try {
      return readdirSync(d).map((f) => readFileSync(join(d, f), 'utf8')).join('\n');
    } catch {
      return '';
    }
  }

  /** ip or nft inside a host's namespace. */
  inside(host: string, ...args: string[]): string {
    return sh(['ip', 'netns', 'exec', this.ns(host), ...args]);
  }

  /** Kills each host's pm2 and anything left in its namespace, deletes the namespaces and the files. */
  teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    process.off('exit', this.onExit);
    for (const ns of this.namespaces) {
      const host = ns.slice(this.prefix.length + 1);
      const d = join(this.dir, host);
      spawnSync('ip', ['netns', 'exec', ns, process.execPath, pm2Bin, 'kill'], { env: { ...process.env, PM2_HOME: join(d, 'pm2'), NODE_OPTIONS: '' }, timeout: commandMs, stdio: 'ignore' });
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').map(Number).filter((p) => p > 0);
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const ns of [...this.namespaces].reverse()) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
