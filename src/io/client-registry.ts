// The replica's record of client credentials: who holds which number, with which role, issued
// when, and whether revoked. Kept per replica in `<its data dir>/clients.json`, written durably
// (tmp, fsync, rename, fsync dir) before a change is acknowledged. It holds no keys: a client's key
// is derived on demand from the keyring's client root (credentials.ts) and cached here.
// The bootstrap admin (number 0) exists until an entry says otherwise.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Role } from '../core/authorization.js';
import type { ClientSetRequest } from '../core/messages.js';
import { bootstrapAdmin, clientKey } from './credentials.js';

/** Clients one replica keeps a record of (revoked ones included); past it `kvc client add` is refused. */
export const clientsMax = 10_000;

export interface ClientEntry {
  client: string;
  /** Null for a revocation of a client this replica never saw issued. */
  number: number | null;
  role: Role;
  issuedMs: number;
  revoked: boolean;
  /** When the admin made the latest change this entry holds; an older change arriving late is ignored. */
  changedMs: number;
}

export interface KnownClient { client: string; role: Role; revoked: boolean; key: Buffer }

export class ClientRegistry {
  private readonly byId = new Map<string, ClientEntry>();
  private readonly byNumber = new Map<number, KnownClient>();

  private constructor(private readonly path: string, private readonly clientRoot: Buffer) {}

  static load(dataDir: string, clientRoot: Buffer): ClientRegistry {
    const r = new ClientRegistry(join(dataDir, 'clients.json'), clientRoot);
    let text: string | null = null;
    try {
      text = readFileSync(r.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${r.path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
    let entries: ClientEntry[] = [];
    try {
      if (text !== null) entries = (JSON.parse(text) as { clients: ClientEntry[] }).clients;
    } catch (e) {
      throw new Error(`${r.path}: not a clients file (${e instanceof Error ? e.message : String(e)}); restore it from another replica's`);
    }
    for (const e of entries) r.byId.set(e.client, e);
    if (![...r.byId.values()].some((e) => e.number === bootstrapAdmin.number)) {
      r.byId.set(bootstrapAdmin.client, { ...bootstrapAdmin, role: 'admin', revoked: false, changedMs: 0 });
    }
    for (const e of r.byId.values()) r.index(e);
    return r;
  }

  /** The client sealing under `number`, with its derived key, or null: no such credential here. */
  lookup(number: number): KnownClient | null {
    return this.byNumber.get(number) ?? null;
  }

  /**
   * Applies an admin's change and makes it durable; returns the entry as it now stands, or why it
   * was refused. A change older than the entry's latest (a retransmission, a late datagram) is not applied.
   */
  apply(req: ClientSetRequest): { ok: true; entry: ClientEntry; key: Buffer | null; changed: boolean } | { ok: false; reason: string } {
    const known = this.byId.get(req.client);
    const changed = known === undefined || req.atMs > known.changedMs;
    if (changed) {
      let next: ClientEntry;
      if (req.revoked) {
        next = { ...(known ?? { client: req.client, number: null, role: req.role, issuedMs: req.atMs }), revoked: true, changedMs: req.atMs };
      } else {
        const holder = [...this.byId.values()].find((e) => e.number === req.number && e.client !== req.client);
        if (holder !== undefined) return { ok: false, reason: `number ${req.number} is client ${JSON.stringify(holder.client)}'s` };
        if (known === undefined && this.byId.size >= clientsMax) return { ok: false, reason: `this replica keeps at most ${clientsMax} clients` };
        next = { client: req.client, number: req.number, role: req.role, issuedMs: req.atMs, revoked: false, changedMs: req.atMs };
      }
      this.byId.set(req.client, next);
      this.save();
      if (known?.number != null) this.byNumber.delete(known.number);
      this.index(next);
    }
    const entry = this.byId.get(req.client)!;
    return { ok: true, entry, key: entry.revoked || entry.number === null ? null : this.lookup(entry.number)!.key, changed };
  }

  private index(e: ClientEntry): void {
    if (e.number === null) return;
    this.byNumber.set(e.number, { client: e.client, role: e.role, revoked: e.revoked, key: clientKey(this.clientRoot, e.client, e.number, e.issuedMs) });
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, clients: [...this.byId.values()] }, null, 1)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(join(this.path, '..'), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}
