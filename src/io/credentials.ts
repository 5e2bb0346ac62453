// Client credentials: an id (a name), a number (what the wire's key id says) and a key. The key is
// derived from the keyring's client root, so replicas keep only the registry of who holds which role
// (client-registry.ts), never a client's key, and a credential can seal only client datagrams:
// no peer key can be computed from it, and the class byte it seals under is authenticated.
//
//   {"version":1,"client":"alice","number":123456,"key":"<64 hex>"}   (mode 0600)
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientIdPattern } from '../core/messages.js';
import type { ClusterConfig } from '../core/types.js';
import { writeOnce } from './secret-file.js';

export const credentialVersion = 1;
/** The admin credential the first start of a cluster makes for the local user. */
export const bootstrapAdmin = { client: 'admin', number: 0, issuedMs: 0 } as const;

export interface Credential { client: string; number: number; key: Buffer }

/** The default credential of kvc and the library: `<data_dir>/credentials` (on a replica host, the admin's). */
export function credentialsPath(config: ClusterConfig): string {
  return join(config.dataDir, 'credentials');
}

/** The key of client `client`, issued as `number` at `issuedMs`: a new issue is a new key. */
export function clientKey(clientRoot: Buffer, client: string, number: number, issuedMs: number): Buffer {
  return Buffer.from(hkdfSync('sha256', clientRoot, 'ringkv/client', `${number}/${client}/${issuedMs}`, 32));
}

export function credentialText(c: Credential): string {
  return `${JSON.stringify({ version: credentialVersion, client: c.client, number: c.number, key: c.key.toString('hex') })}\n`;
}

/** Writes the bootstrap admin's credential unless one is there (first start of a cluster). True when written. */
export function writeBootstrapCredential(path: string, clientRoot: Buffer): boolean {
  const { client, number, issuedMs } = bootstrapAdmin;
  return writeOnce(path, credentialText({ client, number, key: clientKey(clientRoot, client, number, issuedMs) }));
}

/** Reads a credential file; errors name the file and what is wrong. */
export function loadCredential(path: string): Credential {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CredentialError(`no credentials at ${path}: on a replica host the first start of the cluster (npm start) makes the admin's there; `
        + 'anywhere else ask an admin for one (kvc client add <id> --role read|write|admin) and pass it with --credentials FILE or KV_CREDENTIALS');
    }
    throw new CredentialError(`credentials ${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CredentialError(`credentials ${path}: not a credential file (expected the JSON kvc client add writes)`);
  }
  if (o === null || typeof o !== 'object' || o.version !== credentialVersion) throw new CredentialError(`credentials ${path}: version: expected ${credentialVersion}`);
  if (typeof o.client !== 'string' || !clientIdPattern.test(o.client)) throw new CredentialError(`credentials ${path}: client: expected a client id`);
  if (typeof o.number !== 'number' || !Number.isInteger(o.number) || o.number < 0 || o.number > 0xffff_ffff) throw new CredentialError(`credentials ${path}: number: expected an integer in 0..${0xffff_ffff}`);
  if (typeof o.key !== 'string' || !/^[0-9a-f]{64}$/.test(o.key)) throw new CredentialError(`credentials ${path}: key: expected 64 hex digits`);
  return { client: o.client, number: o.number, key: Buffer.from(o.key, 'hex') };
}

export class CredentialError extends Error {
  override name = 'CredentialError';
}
