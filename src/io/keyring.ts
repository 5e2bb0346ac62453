// The peer keyring: held by replicas only, in its own file (mode 0600), never in nodes.toml and so
// never in the config digest (one replica installing a key must not cut it off from its peers).
// It holds the peer keys, each with a key id the wire names (seal.ts: no trial decryption), the
// one in use for sending, and the client root, from which every client credential's key is
// derived (credentials.ts): so a replica stores no client key, and no client key is a peer key.
//
//   {"version":1,"use":1,"keys":[{"id":1,"key":"<64 hex>"}],"clientRoot":"<64 hex>"}
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { keyringKeysMax } from '../core/limits.js';
import type { KeyringRequest } from '../core/messages.js';
import type { ClusterConfig } from '../core/types.js';
import { writeOnce } from './secret-file.js';

export const keyringVersion = 1;
const keyHexPattern = /^[0-9a-f]{64}$/;

export interface Keyring {
  /** Peer keys by id: every one of them opens datagrams; rotation (kvc keyring) changes them. */
  readonly keys: Map<number, Buffer>;
  /** The id of the peer key this replica seals with. */
  use: number;
  readonly clientRoot: Buffer;
}

/**
 * A rotation step (kvc keyring install|use|remove), applied to this replica's keyring in memory;
 * `changed` says whether the file must be written. Refused: using a key not installed, removing the
 * key in use, a key id installed with other bytes, more than keyringKeysMax keys.
 */
export function applyKeyringChange(ring: Keyring, req: KeyringRequest): { ok: true; changed: boolean } | { ok: false; reason: string } {
  const held = ring.keys.get(req.keyId);
  switch (req.op) {
    case 'list': return { ok: true, changed: false };
    case 'install': {
      const key = Buffer.from(req.key ?? '', 'hex');
      if (key.length !== 32) return { ok: false, reason: 'install needs a key of 32 bytes' };
      if (held !== undefined) return held.equals(key) ? { ok: true, changed: false } : { ok: false, reason: `key id ${req.keyId} is installed here with other bytes` };
      if (ring.keys.size >= keyringKeysMax) return { ok: false, reason: `this keyring holds ${ring.keys.size} keys, the most it may (remove one first)` };
      ring.keys.set(req.keyId, key);
      return { ok: true, changed: true };
    }
    case 'use':
      if (held === undefined) return { ok: false, reason: `key ${req.keyId} is not installed here (kvc keyring install first)` };
      if (ring.use === req.keyId) return { ok: true, changed: false };
      ring.use = req.keyId;
      return { ok: true, changed: true };
    case 'remove':
      if (ring.use === req.keyId) return { ok: false, reason: `key ${req.keyId} is the one in use here (kvc keyring use another first)` };
      return { ok: true, changed: ring.keys.delete(req.keyId) };
  }
}

export function keyringText(ring: Keyring): string {
  const keys = [...ring.keys].map(([id, key]) => ({ id, key: key.toString('hex') }));
  return `${JSON.stringify({ version: keyringVersion, use: ring.use, keys, clientRoot: ring.clientRoot.toString('hex') })}\n`;
}

/** Writes the keyring durably (a file of this process's own, fsync, rename over, fsync the dir), mode 0600. */
export function saveKeyring(path: string, ring: Keyring): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, keyringText(ring));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Where a cluster's keyring lives: `<data_dir>/keyring`, beside the replicas' data dirs. */
export function keyringPath(config: ClusterConfig): string {
  return join(config.dataDir, 'keyring');
}

/** A new keyring: one random peer key (a random id, so two clusters' rings rarely share ids) and a random client root. */
export function newKeyringText(): string {
  const id = randomInt(1, 2 ** 31);
  return `${JSON.stringify({ version: keyringVersion, use: id, keys: [{ id, key: randomBytes(32).toString('hex') }], clientRoot: randomBytes(32).toString('hex') })}\n`;
}

/** Reads the keyring at `path`; with mayCreate, makes one if there is none (`created`: this call's file won). Null without mayCreate when missing. */
export function loadKeyring(path: string, opts: { mayCreate: boolean }): { keyring: Keyring | null; created: boolean } {
  let text = readText(path);
  let created = false;
  if (text === null) {
    if (!opts.mayCreate) return { keyring: null, created: false };
    created = writeOnce(path, newKeyringText());
    text = readText(path);
    if (text === null) throw new Error(`keyring ${path}: missing right after it was created`);
  }
  return { keyring: parseKeyring(text, path), created };
}

export function parseKeyring(text: string, source: string): Keyring {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new Error(`keyring ${source}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const bad = (what: string): never => { throw new Error(`keyring ${source}: ${what}`); };
  if (typeof o !== 'object' || o === null) return bad('expected an object');
  const r = o as Record<string, unknown>;
  if (r.version !== keyringVersion) bad(`version: expected ${keyringVersion}, got ${JSON.stringify(r.version)}`);
  if (!Array.isArray(r.keys) || r.keys.length === 0) bad('keys: expected a non-empty list');
  const keys = new Map<number, Buffer>();
  for (const k of r.keys as unknown[]) {
    const e = (typeof k === 'object' && k !== null ? k : {}) as Record<string, unknown>;
    if (typeof e.id !== 'number' || !Number.isInteger(e.id) || e.id < 1 || e.id > 0xffff_ffff) bad(`keys: id expected an integer in 1..${0xffff_ffff}, got ${JSON.stringify(e.id)}`);
    if (typeof e.key !== 'string' || !keyHexPattern.test(e.key)) bad(`keys[${String(e.id)}]: key expected 64 hex digits`);
    if (keys.has(e.id as number)) bad(`keys: id ${String(e.id)} twice`);
    keys.set(e.id as number, Buffer.from(e.key as string, 'hex'));
  }
  if (typeof r.use !== 'number' || !keys.has(r.use)) bad(`use: expected the id of one of its keys (${[...keys.keys()].join(', ')}), got ${JSON.stringify(r.use)}`);
  if (typeof r.clientRoot !== 'string' || !keyHexPattern.test(r.clientRoot)) bad('clientRoot: expected 64 hex digits');
  return { keys, use: r.use as number, clientRoot: Buffer.from(r.clientRoot as string, 'hex') };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`keyring ${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
}
