// Who may send what, in one exhaustive table. A datagram's sender is proven by the key it was sealed
// under (io/seal.ts): a replica's peer key, or one client's credential, whose role the replicas
// look up (the client never claims it). A message type without an entry here does not compile,
// and test/unit/authorization.spec.ts fails on a type its own matrix does not list: etcd's
// authorization bypasses sat at entry points nobody had listed.
import type { Message } from './messages.js';
import type { NodeIndex } from './types.js';

export const roles = ['read', 'write', 'admin'] as const;
/** read: get, local. write: read + put, del. admin: write + status, repair, issuing and revoking clients, rotating keys. */
export type Role = (typeof roles)[number];

/** Who proved to have sealed a datagram: a replica, or a client credential (role null: revoked). */
export type Principal = { kind: 'peer'; node: NodeIndex } | { kind: 'client'; id: string; role: Role | null };

/** The classes of sender the table speaks of. */
export type SenderKind = 'peer' | Role;
export const senderKinds: readonly SenderKind[] = ['peer', ...roles];

const anyRole: readonly SenderKind[] = roles;
const writers: readonly SenderKind[] = ['write', 'admin'];
const admins: readonly SenderKind[] = ['admin'];
const peers: readonly SenderKind[] = ['peer'];
/** Replies to clients: a replica sends them and accepts them from nobody. */
const nobody: readonly SenderKind[] = [];

/**
 * Who may send each message type to a replica. `satisfies` makes a type of the Message union
 * without an entry a compile error (so `npm run build` fails), and the test's own matrix must list
 * the same types.
 */
const table = {
  get: anyRole, local: anyRole, time: anyRole,
  put: writers, del: writers,
  status: admins, state: admins, repair: admins, 'client.set': admins, keyring: admins,
  'get.ok': nobody, 'put.ok': nobody, 'del.ok': nobody, 'local.ok': nobody, 'status.ok': nobody, 'state.ok': nobody, 'repair.ok': nobody, 'client.ok': nobody, 'time.ok': nobody, 'keyring.ok': nobody, fail: nobody,
  rw: peers, 'rw.ok': peers, rr: peers, 'rr.ok': peers, hints: peers, 'hints.ok': peers,
  ae: peers, 'ae.ok': peers, 'ae.pull': peers, 'ae.pull.ok': peers, hb: peers, ring: peers,
} as const satisfies Record<Message['t'], readonly SenderKind[]>;

/** Every message type, as the table lists them. */
export const messageTypes = Object.keys(table) as Message['t'][];

/** Who may send a message of type `t` to a replica. */
export function mayBeSentBy(t: Message['t']): readonly SenderKind[] {
  return table[t];
}

export type Refusal = 'forbidden' | 'revoked' | 'spoofed';

/** Null when `who` may send `msg`; else why not. A peer may only speak for itself (`from`). */
export function refusal(msg: Message, who: Principal): Refusal | null {
  if (who.kind === 'client' && who.role === null) return 'revoked';
  const kind: SenderKind = who.kind === 'peer' ? 'peer' : who.role!;
  if (!mayBeSentBy(msg.t).includes(kind)) return 'forbidden';
  if (who.kind === 'peer' && 'from' in msg && msg.from !== who.node) return 'spoofed';
  return null;
}

/** The one line a refused client is told. */
export function refusalText(msg: Message, who: Principal, why: Refusal): string {
  if (who.kind === 'peer') return `a replica may not send '${msg.t}'`;
  if (why === 'revoked') return `Forbidden: the credential of client ${JSON.stringify(who.id)} is revoked (kvc client add issues a new one)`;
  const allowed = roles.filter((r) => mayBeSentBy(msg.t).includes(r));
  return `Forbidden: client ${JSON.stringify(who.id)} has role ${who.role}; '${msg.t}' needs ${allowed.length === 0 ? 'a replica' : `role ${allowed.join(' or ')}`}`;
}
