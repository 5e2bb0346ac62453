// pm2 apps for the cluster: one replica (dist/cli/kvd.js) per [[nodes]] entry of nodes.toml.
//   npm start                      build, then pm2 start ecosystem.config.js
//   KV_CONFIG=other.toml npm start another cluster file (relative to this directory)
//   KV_REPAIR=read-repair npm start override repair_mode on every replica (hinted-handoff | read-repair | both | 0 | 1)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';

const here = dirname(fileURLToPath(import.meta.url));
const configPath = resolve(here, process.env.KV_CONFIG ?? 'nodes.toml');
const { nodes } = parse(readFileSync(configPath, 'utf8'));
if (!Array.isArray(nodes) || nodes.length === 0) throw new Error(`${configPath}: no [[nodes]] entries`);
const repair = process.env.KV_REPAIR ? ['--repair', process.env.KV_REPAIR] : [];

/** kvd exits 2 on a bad config: restarting would only fail the same way. */
const exitConfigError = 2;

export const apps = nodes.map((node) => ({
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
