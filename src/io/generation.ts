// A replica's generation (its incarnation number, carried by every heartbeat and request) must grow
// on every restart, or peers take the new incarnation's heartbeats for stale ones and its request
// ids for old ones. The wall clock alone can step back across a restart, so the last generation is
// kept in the data dir and the next one is past both it and the clock.
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const fileName = 'generation';

/**
 * Reads the last generation, stores and returns max(nowMs, last + 1), with the last one (null when
 * this data dir never had a replica: nothing earlier can have served). The dir must exist.
 */
export async function nextGeneration(dataDir: string, nowMs: number): Promise<{ generation: number; previous: number | null }> {
  const path = join(dataDir, fileName);
  let last = 0;
  let previous: number | null = null;
  try {
    const text = (await readFile(path, 'utf8')).trim();
    // An unreadable file still says a replica ran here before: previous is then its best guess.
    previous = /^\d{1,16}$/.test(text) ? (last = Number(text)) : Math.floor(nowMs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const generation = Math.max(Math.floor(nowMs), last + 1);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${generation}\n`);
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
  return { generation, previous };
}
