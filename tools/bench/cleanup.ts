// Everything the benchmark starts is registered here with how to undo it: run in reverse order at
// the end, on an error, on SIGINT/SIGTERM, and (synchronously, as a last resort) at process exit.
export interface Undo {
  what: string;
  run(): Promise<void>;
  /** Used from the 'exit' handler, where nothing asynchronous runs any more. */
  runSync(): void;
}

const undos: Undo[] = [];
const shutdown = new AbortController();
/** Aborted on SIGINT/SIGTERM/SIGHUP: loops stop issuing requests while everything is cleaned up. */
export const shutdownSignal: AbortSignal = shutdown.signal;
let running: Promise<void> | null = null;

export function onCleanup(undo: Undo): () => void {
  undos.push(undo);
  return () => {
    const i = undos.indexOf(undo);
    if (i >= 0) undos.splice(i, 1);
  };
}

/** Undoes everything registered, newest first; an undo that fails is reported and the rest still run. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (undos.length > 0) {
      const undo = undos.pop()!;
      try {
        await undo.run();
      } catch (e) {
        process.stderr.write(`bench: cleanup: ${undo.what}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  })().finally(() => { running = null; });
  return running;
}

let installed = false;
/** A second signal sooner than this after the first is the same Ctrl-C (relayed) and ignored. */
const repeatGraceMs = 3_000;

/** SIGINT/SIGTERM: clean up, then exit 130/143. At exit: whatever is left, synchronously. */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  let signalledAtMs: number | null = null;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    // Ctrl-C reaches this process both from the terminal and relayed by npm: one cleanup for both.
    if (signalledAtMs !== null) {
      if (Date.now() - signalledAtMs < repeatGraceMs) return;
      process.stderr.write(`bench: ${signal} again: killing what is left without waiting\n`);
      process.exit(code);
    }
    signalledAtMs = Date.now();
    shutdown.abort(signal);
    process.stderr.write(`\nbench: ${signal}: stopping everything this run started (again in ${repeatGraceMs / 1000} s or later to hurry)…\n`);
    cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));
  process.on('exit', () => {
    while (undos.length > 0) {
      const undo = undos.pop()!;
      try {
        undo.runSync();
      } catch (e) {
        process.stderr.write(`bench: cleanup at exit: ${undo.what}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  });
}

/**
 * A tool's entry point: runs main, prints a failure as one line prefixed with the tool's name,
 * undoes everything registered whatever happened, and exits with main's code (1 on a failure).
 */
export async function runMain(tool: string, main: () => Promise<number>): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    process.stderr.write(`${tool}: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  } finally {
    await cleanupAll();
  }
  process.exit(code);
}
