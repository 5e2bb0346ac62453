// What each kind of process seals with and accepts (see seal.ts for the wire). Two kinds of key that
// never mix: peer keys (class peer), held by replicas only in the keyring; client credentials (class
// client to a replica, class reply back), each derived from the keyring's client root. A replica
// opens peer datagrams under the peer key their key id names and client datagrams under the key of
// the credential their key id (the client's number) names; a client opens only replies under its own.
import type { CodecKeys } from './codec.js';
import type { ClientRegistry } from './client-registry.js';
import type { Credential } from './credentials.js';
import type { Keyring } from './keyring.js';
import type { SealKey, SenderClass } from './seal.js';

export interface ReplicaKeys extends CodecKeys {
  /** The key a reply to this client (by its credential number) is sealed under, or null: not a client this replica knows. */
  replyKey(clientNumber: number): SealKey | null;
}

/** Replica to replica only (tools measure with it): seals under the key in use, opens under any key of the ring. */
export function peerKeys(keyring: Keyring, self: number): CodecKeys {
  let send: SealKey = { cls: 'peer', keyId: keyring.use, key: keyring.keys.get(keyring.use)! };
  return {
    sender: self,
    /** The key in use now: `kvc keyring use` changes it while the replica runs. */
    get send(): SealKey {
      if (send.keyId !== keyring.use) send = { cls: 'peer', keyId: keyring.use, key: keyring.keys.get(keyring.use)! };
      return send;
    },
    keyFor: (cls: SenderClass, keyId: number) => (cls === 'peer' ? keyring.keys.get(keyId) ?? null : null),
  };
}

export function replicaKeys(keyring: Keyring, clients: ClientRegistry, self: number): ReplicaKeys {
  const peer = peerKeys(keyring, self);
  return {
    sender: self,
    get send(): SealKey { return peer.send; },
    keyFor: (cls: SenderClass, keyId: number, sender: number) => {
      if (cls === 'client') return clients.lookup(keyId)?.key ?? null;
      return peer.keyFor(cls, keyId, sender); // replies are for clients: none
    },
    replyKey: (n) => {
      const c = clients.lookup(n);
      return c === null ? null : { cls: 'reply', keyId: n, key: c.key };
    },
  };
}

export function clientKeys(credential: Credential): CodecKeys {
  return {
    sender: credential.number,
    send: { cls: 'client', keyId: credential.number, key: credential.key },
    keyFor: (cls: SenderClass, keyId: number) => (cls === 'reply' && keyId === credential.number ? credential.key : null),
  };
}
