// The cluster secret, like Erlang's cookie: a file made on first start and read by every replica
// and by kvc. The key is the file's trimmed text, so an operator may also write one by hand.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const cookieBytesMin = 16;
const cookieRandomBytes = 32;

/** Reads the cookie at `path`, creating it (mode 0600, 32 random bytes as hex) if there is none. */
export function loadOrCreateCookie(path: string): Buffer {
  const { cookie } = loadCookie(path, { mayCreate: true });
  if (cookie === null) throw new Error(`cookie ${path}: missing right after it was created`);
  return cookie;
}

/**
 * Reads the cookie at `path`; with mayCreate, makes it if there is none. `created` is true only
 * for the one caller whose file won, so exactly one start logs that it made the cluster's cookie.
 * Without mayCreate a missing file is `cookie: null`.
 */
export function loadCookie(path: string, opts: { mayCreate: boolean }): { cookie: Buffer | null; created: boolean } {
  let text = readText(path);
  let created = false;
  if (text === null) {
    if (!opts.mayCreate) return { cookie: null, created: false };
    created = create(path);
    text = readText(path);
    if (text === null) throw new Error(`cookie ${path}: missing right after it was created`);
  }
  return { cookie: checked(path, text), created };
}

function checked(path: string, text: string): Buffer {
  const cookie = Buffer.from(text.trim(), 'utf8');
  if (cookie.length < cookieBytesMin) {
    throw new Error(`cookie ${path}: ${cookie.length} bytes after trimming, under the minimum of ${cookieBytesMin}; write a longer one by hand on every host of the cluster`);
  }
  return cookie;
}

/** The file's text, or null if there is no file. */
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw new Error(`cookie ${path}: cannot read: ${errorText(e)}`);
  }
}

/**
 * Two replicas may start at once. Each writes its own complete file under a private name (exclusive
 * create, 0600) and links it into place; link refuses to replace an existing file, so exactly one
 * wins and nobody can read a half-written cookie. The loser reads the winner's.
 */
function create(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(cookieRandomBytes).toString('hex') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw new Error(`cookie ${path}: cannot create: ${errorText(e)}`);
    return false;
  } finally {
    unlinkSync(tmp);
  }
}

function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === code;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * KV_COOKIE, when set, is the cookie (its trimmed text), in place of the file: one secret handed to
 * every host and client machine by whatever already distributes secrets there (systemd, pm2 env,
 * a vault). Null when unset; an error when too short.
 */
export function cookieFromEnvironment(env: NodeJS.ProcessEnv = process.env): Buffer | null {
  const text = env.KV_COOKIE;
  if (text === undefined || text === '') return null;
  const cookie = Buffer.from(text.trim(), 'utf8');
  if (cookie.length < cookieBytesMin) throw new Error(`KV_COOKIE: ${cookie.length} bytes after trimming, under the minimum of ${cookieBytesMin}`);
  return cookie;
}
