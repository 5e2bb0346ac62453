#!/usr/bin/env node
// The replica main, the pm2 script: kvd --config nodes.toml --name replica-2 [--repair MODE] [--data-dir DIR]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { repairModes, type RepairMode } from '../core/types.js';
import { ConfigError } from '../io/config.js';
import { metricsRegistry, serveMetrics, type MetricsServer } from '../io/prometheus.js';
import { createLogger, startReplica, type Replica } from '../io/runtime.js';

/** The original tool's numeric switch: 1 = read repair, 0 = hinted handoff. */
const repairAliases: Record<string, RepairMode> = { '0': 'hinted-handoff', '1': 'read-repair' };
const exitConfigError = 2;
const exitFailure = 1;

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('kvd')
    .usage('$0 --config nodes.toml --name replica-2 [--repair MODE] [--data-dir DIR]\n\nRuns one ringkv replica.')
    .option('config', { type: 'string', demandOption: true, describe: 'the cluster file, nodes.toml' })
    .option('name', { type: 'string', demandOption: true, describe: 'this replica, as named in nodes.toml' })
    .option('repair', {
      type: 'string', choices: [...repairModes, '0', '1'],
      describe: 'override repair_mode: hinted-handoff | read-repair | both (0 = hinted-handoff, 1 = read-repair)',
    })
    .option('data-dir', { type: 'string', describe: 'this replica\'s log directory (default: <data_dir>/<name>)' })
    .strict()
    .version(false)
    .help()
    .parseAsync();

  const repairMode = argv.repair === undefined ? undefined : (repairAliases[argv.repair] ?? (argv.repair as RepairMode));
  const logger = createLogger(argv.name);
  let replica: Replica;
  try {
    replica = await startReplica({
      configPath: argv.config, name: argv.name, repairMode, dataDir: argv['data-dir'], logger,
      // Restart and replay rather than run on a log that cannot be written (pm2 restarts us).
      onFatal: () => process.exit(exitFailure),
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kvd: ${e.message}\n`);
      process.exit(exitConfigError);
    }
    process.stderr.write(`kvd: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(exitFailure);
  }
  let metricsServer: MetricsServer | null = null;
  if (replica.spec.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(replica.spec.host, replica.spec.metricsPort, metricsRegistry(() => replica.metrics(), { node: replica.spec.name }));
      logger.info({ event: 'metrics' }, `Prometheus metrics on http://${metricsServer.address}/metrics`);
    } catch (e) {
      // The store serves without them; the operator sees why there are none.
      logger.warn({ event: 'metrics-failed' }, `no Prometheus metrics: cannot listen on ${replica.spec.host}:${replica.spec.metricsPort} (metrics_port): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Under pm2, its metrics (tx2 talks over the IPC channel pm2 gave us): from the start, so the
  // wait-out below shows in pm2 monit.
  if (process.env.pm_id !== undefined && process.send !== undefined) {
    const { reportToPm2 } = await import('../io/pm2-metrics.js');
    reportToPm2(() => replica.metrics());
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'stopping' }, `${signal}: stopping`);
    Promise.all([replica.stop(), metricsServer?.close()]).then(() => process.exit(0), (e: unknown) => {
      process.stderr.write(`kvd: stop failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(exitFailure);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // pm2's wait_ready: the log is replayed, the port bound, and every write sent is served (a
  // restarted replica waits out 2 × max_clock_skew_ms first, core/restart-wait.ts), so pm2 start,
  // restart and reload count this replica as up only once it serves every request.
  await replica.writesServed;
  if (!stopping) process.send?.('ready');
}

await main();
