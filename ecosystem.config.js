// pm2 apps for the cluster: one replica (dist/cli/kvd.js) per [[nodes]] entry of nodes.toml.
//   npm start                      build, check nodes.toml, then pm2 start ecosystem.config.js
//   KV_CONFIG=other.toml npm start another cluster file (relative to this directory)
//   KV_REPAIR=read-repair npm start override repair_mode on every replica (hinted-handoff | read-repair | both | 0 | 1)
//   npm run reload                 restart the replicas one at a time, each serving before the next stops
//   KV_NODES=replica-2 npm start   start these replicas (comma-separated) instead of the ones whose
//                                  host (or listen) is an address of this machine (all, on loopback)
// pm2 runs this file itself too (`pm2 start|reload ecosystem.config.js`), so it refuses a bad
// nodes.toml here, with the loader's one line and exit status 2, before pm2 starts anything.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
/** kvd exits 2 on a bad config: restarting would only fail the same way. */
const exitConfigError = 2;
/**
 * From launch to kvd's 'ready' (log replayed, port bound, and for a restarted replica 2 ×
 * max_clock_skew_ms waited out: src/core/restart-wait.ts); past it pm2 counts the replica as started anyway.
 */
const readyTimeoutMs = 30_000;

function refuse(line) {
  process.stderr.write(`${line}\n`);
  process.exit(exitConfigError);
}

/** A module of the build (kvd itself is in dist/, so nothing runs unbuilt). */
function built(path) {
  try {
    return require(path);
  } catch {
    refuse(`ecosystem.config.js: ${resolve(here, path)} is missing: run \`npm run build\` first (npm start does)`);
  }
}

/** The same checks as kvd's, from the built loader. */
function loadCluster(configPath) {
  const loader = built('./dist/io/config.js');
  try {
    return loader.loadConfig(configPath);
  } catch (e) {
    if (e instanceof loader.ConfigError) refuse(e.message);
    throw e;
  }
}

/**
 * pm2 restarts two apps of this file at a time (its CONCURRENT_ACTIONS, read from the environment
 * before this file is loaded): two replicas of one key down at once would fail QUORUM. One at a
 * time it is, for `pm2 reload|restart ecosystem.config.js` from any pm2 that loaded this file.
 */
function oneActionAtATime() {
  for (const [file, mod] of Object.entries(require.cache)) {
    if (/[\\/]pm2[\\/]constants\.js$/.test(file) && typeof mod?.exports?.CONCURRENT_ACTIONS === 'number') mod.exports.CONCURRENT_ACTIONS = 1;
  }
}

const configPath = resolve(here, process.env.KV_CONFIG ?? 'nodes.toml');
const { nodes, maxClockSkewMs } = loadCluster(configPath);
const repair = process.env.KV_REPAIR ? ['--repair', process.env.KV_REPAIR] : [];
oneActionAtATime();

// One replica per host: only the ones that live here, or KV_NODES (see src/io/local-replicas.ts).
const { localReplicas } = built('./dist/io/local-replicas.js');
const localNames = localReplicasOrRefuse();

function localReplicasOrRefuse() {
  try {
    return new Set(localReplicas(nodes, configPath));
  } catch (e) {
    if (e instanceof Error && e.name === 'LocalReplicasError') refuse(`ecosystem.config.js: ${e.message}`);
    throw e;
  }
}

export const apps = nodes.filter((node) => localNames.has(node.name)).map((node) => ({
  name: node.name,
  cwd: here,
  script: resolve(here, 'dist/cli/kvd.js'),
  args: ['--config', configPath, '--name', node.name, ...repair],
  autorestart: true,
  stop_exit_codes: [exitConfigError],
  // kvd sends 'ready' once its log is replayed, its port bound and every write sent from then on
  // is served (a restarted replica waits 2 × max_clock_skew_ms): pm2 start/restart/reload wait for it.
  wait_ready: true,
  listen_timeout: readyTimeoutMs + 2 * maxClockSkewMs,
  // kvd stops on SIGINT: finishes its fsync in flight, flushes, closes; SIGKILL after this.
  kill_timeout: 5000,
  // Every log line stamped by pm2 (kvd leaves its own timestamp out under pm2).
  time: true,
  // A replica's live data is ~15 MB (heap snapshot), but it allocates fast and much of it lives a
  // second or two (answers kept until their deadline, dedup entries): left to itself V8 lets the
  // old generation grow to ~100 MB of garbage before collecting (peak RSS 171-177 MB through a
  // 1,000,000-write fill). With a cap V8 sizes its heap otherwise and the RSS stays flat near 120 MB,
  // for ~12% more CPU per write in GC at 128 MB (~20% at 96) (npm run bench -- --start --scenario
  // restart; see the README's benchmark).
  node_args: ['--enable-source-maps', '--max-old-space-size=128'],
}));

export default { apps };
