// Secret files (the keyring, credentials): made once, mode 0600, never half-written.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `text` to `path` unless a file is there already; true when this call's file won. Two
 * processes may start at once: each writes its own complete file under a private name (exclusive
 * create, 0600) and links it into place; link refuses to replace an existing file, so exactly one
 * wins and nobody can read a half-written secret.
 */
export function writeOnce(path: string, text: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if (!(e instanceof Error && (e as NodeJS.ErrnoException).code === 'EEXIST')) throw new Error(`${path}: cannot create: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  } finally {
    unlinkSync(tmp);
  }
}
