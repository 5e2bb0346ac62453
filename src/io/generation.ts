// A replica's generation (its incarnation number, carried by every heartbeat and request) must grow
// on every restart, or peers take the new incarnation's heartbeats for stale ones and its request
// ids for old ones. The wall clock alone can step back across a restart, so the last generation is
// kept in the data dir and the next one is past both it and the clock.
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const fileName = 'generation';

/**
 * A clean stop's record: `<generation> <ms>`, the time (by its clock) from which that process
 * handled nothing more. The next start waits out the clock bound from there rather than from its
 * own start (core/restart-wait.ts), so a replica stopped for a while serves writes at once.
 */
const stoppedFileName = 'stopped';

export interface Generations {
  generation: number;
  /** The last process's generation; null when this data dir never had a replica: nothing earlier can have served. */
  previous: number | null;
  /** When that process stopped cleanly (it handled nothing after), or null: it crashed, or did not say. */
  previousStoppedAtMs: number | null;
}

/** Reads the last generation, stores and returns max(nowMs, last + 1), with the last one and its clean stop. The dir must exist. */
export async function nextGeneration(dataDir: string, nowMs: number): Promise<Generations> {
  const path = join(dataDir, fileName);
  let last = 0;
  let previous: number | null = null;
  const text = await readIfThere(path);
  // An unreadable file still says a replica ran here before: previous is then its best guess.
  if (text !== null) previous = /^\d{1,16}$/.test(text) ? (last = Number(text)) : Math.floor(nowMs);
  const generation = Math.max(Math.floor(nowMs), last + 1);
  // Only the last process's own record counts: a crash after a clean stop leaves an older one.
  const stopped = /^(\d{1,16}) (\d{1,16})$/.exec(await readIfThere(join(dataDir, stoppedFileName)) ?? '');
  const previousStoppedAtMs = stopped !== null && previous !== null && Number(stopped[1]) === previous ? Number(stopped[2]) : null;
  await writeDurably(dataDir, fileName, `${generation}\n`);
  return { generation, previous, previousStoppedAtMs };
}

/** Called once a process has stopped handling anything (and its log is closed): from stoppedAtMs on, it handled nothing. */
export async function recordCleanStop(dataDir: string, generation: number, stoppedAtMs: number): Promise<void> {
  await writeDurably(dataDir, stoppedFileName, `${generation} ${Math.ceil(stoppedAtMs)}\n`);
}

async function readIfThere(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** tmp file, fsync, rename, fsync of the dir: the file holds the old text or the new, whole. */
async function writeDurably(dataDir: string, name: string, text: string): Promise<void> {
  const path = join(dataDir, name);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
