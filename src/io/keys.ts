// What each kind of process seals with and accepts (see seal.ts for the wire).
// For now every key is derived from the cluster cookie, which replicas and clients all hold: a peer
// key (class peer, key id 1) and one client key (class client and reply, credential 0).
import { hkdfSync } from 'node:crypto';
import type { CodecKeys } from './codec.js';
import type { SealKey, SenderClass } from './seal.js';

export const cookieClientNumber = 0;
const cookiePeerKeyId = 1;

function derived(cookie: Uint8Array, what: string): Buffer {
  return Buffer.from(hkdfSync('sha256', cookie, 'ringkv/cookie', what, 32));
}

export interface ReplicaKeys extends CodecKeys {
  /** The key a reply to this client (by its credential number) is sealed under, or null: not a client this replica knows. */
  replyKey(clientNumber: number): SealKey | null;
}

/** A replica: sends as peer `self`; accepts peers under the peer key and clients under their credential. */
export function replicaKeys(cookie: Uint8Array, self: number): ReplicaKeys {
  const peer = derived(cookie, `peer/${cookiePeerKeyId}`);
  const client = derived(cookie, `client/${cookieClientNumber}`);
  return {
    sender: self,
    send: { cls: 'peer', keyId: cookiePeerKeyId, key: peer },
    keyFor: (cls: SenderClass, keyId: number) => {
      if (cls === 'peer') return keyId === cookiePeerKeyId ? peer : null;
      if (cls === 'client') return keyId === cookieClientNumber ? client : null;
      return null; // replies are for clients
    },
    replyKey: (n) => (n === cookieClientNumber ? { cls: 'reply', keyId: n, key: client } : null),
  };
}

/** A client: sends under its credential; accepts only replicas' replies under that same credential. */
export function clientKeys(cookie: Uint8Array): CodecKeys {
  const client = derived(cookie, `client/${cookieClientNumber}`);
  return {
    sender: cookieClientNumber,
    send: { cls: 'client', keyId: cookieClientNumber, key: client },
    keyFor: (cls: SenderClass, keyId: number) => (cls === 'reply' && keyId === cookieClientNumber ? client : null),
  };
}
