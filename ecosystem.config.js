// pm2 apps for the cluster: one replica (dist/cli/kvd.js) per [[nodes]] entry of nodes.toml.
//   npm start                      build, then pm2 start ecosystem.config.js
//   KV_CONFIG=other.toml npm start another cluster file (relative to this directory)
//   KV_REPAIR=read-repair npm start override repair_mode on every replica (hinted-handoff | read-repair | both | 0 | 1)
//   KV_NODES=replica-2 npm start   start these replicas (comma-separated) instead of the ones whose
//                                  host (or listen) is an address of this machine (all, on loopback)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { localReplicas } from './dist/io/local-replicas.js';

const here = dirname(fileURLToPath(import.meta.url));
const configPath = resolve(here, process.env.KV_CONFIG ?? 'nodes.toml');
const { nodes } = parse(readFileSync(configPath, 'utf8'));
if (!Array.isArray(nodes) || nodes.length === 0) throw new Error(`${configPath}: no [[nodes]] entries`);
const repair = process.env.KV_REPAIR ? ['--repair', process.env.KV_REPAIR] : [];

/** kvd exits 2 on a bad config: restarting would only fail the same way. */
const exitConfigError = 2;

// One replica per host: only the ones that live here (see src/io/local-replicas.ts).
const localNames = new Set(localReplicas(nodes.map((n) => ({ name: String(n.name), host: String(n.host), listen: n.listen === undefined ? undefined : String(n.listen) })), configPath));

export const apps = nodes.filter((node) => localNames.has(String(node.name))).map((node) => ({
  name: String(node.name),
  cwd: here,
  script: resolve(here, 'dist/cli/kvd.js'),
  args: ['--config', configPath, '--name', String(node.name), ...repair],
  autorestart: true,
  stop_exit_codes: [exitConfigError],
  // kvd stops on SIGINT: finishes its fsync in flight, flushes, closes; SIGKILL after this.
  kill_timeout: 5000,
  // Every log line stamped by pm2 (kvd leaves its own timestamp out under pm2).
  time: true,
  node_args: ['--enable-source-maps'],
}));

export default { apps };
