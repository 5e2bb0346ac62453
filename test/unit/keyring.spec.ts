// The two kinds of credential: the replicas' peer keyring and clients' credentials.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ClientRegistry } from '../../src/io/client-registry.js';
import { clientKey, loadCredential, writeBootstrapCredential } from '../../src/io/credentials.js';
import { loadKeyring } from '../../src/io/keyring.js';

describe('io/keyring and credentials', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-keyring-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('makes a 0600 keyring once, says which call made it, and reads the same keys after', () => {
    const path = join(dir, 'data', 'keyring');
    expect(loadKeyring(path, { mayCreate: false })).to.deep.equal({ keyring: null, created: false });
    const made = loadKeyring(path, { mayCreate: true });
    expect(made.created).to.equal(true);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    const again = loadKeyring(path, { mayCreate: true });
    expect(again.created).to.equal(false);
    expect(again.keyring!.keys.get(again.keyring!.use)!.equals(made.keyring!.keys.get(made.keyring!.use)!)).to.equal(true);
    expect(again.keyring!.clientRoot.equals(made.keyring!.clientRoot)).to.equal(true);
    expect(readdirSync(join(dir, 'data'))).to.deep.equal(['keyring']);
    const other = loadKeyring(join(dir, 'other'), { mayCreate: true }).keyring!;
    expect(other.clientRoot.equals(made.keyring!.clientRoot)).to.equal(false);
  });

  it('refuses a damaged keyring naming the field', () => {
    const path = join(dir, 'keyring');
    writeFileSync(path, '{"version":1,"use":2,"keys":[{"id":1,"key":"' + 'ab'.repeat(32) + '"}],"clientRoot":"' + 'cd'.repeat(32) + '"}');
    expect(() => loadKeyring(path, { mayCreate: false })).to.throw(Error, /use: expected the id of one of its keys \(1\), got 2/);
    writeFileSync(path, 'not json');
    expect(() => loadKeyring(path, { mayCreate: false })).to.throw(Error, /not JSON/);
  });

  it('the bootstrap admin credential is what the registry of a new replica accepts; a revoked or re-issued one is not', () => {
    const root = loadKeyring(join(dir, 'keyring'), { mayCreate: true }).keyring!.clientRoot;
    const path = join(dir, 'credentials');
    expect(writeBootstrapCredential(path, root)).to.equal(true);
    expect(writeBootstrapCredential(path, root)).to.equal(false);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    const admin = loadCredential(path);
    const registry = ClientRegistry.load(dir, root);
    expect(registry.lookup(admin.number)).to.deep.include({ client: 'admin', role: 'admin', revoked: false });
    expect(registry.lookup(admin.number)!.key.equals(admin.key)).to.equal(true);

    const issued = registry.apply({ t: 'client.set', id: 1, client: 'alice', number: 77, role: 'read', atMs: 1_000, revoked: false });
    expect(issued.ok && issued.key!.equals(clientKey(root, 'alice', 77, 1_000))).to.equal(true);
    expect(registry.apply({ t: 'client.set', id: 2, client: 'bob', number: 77, role: 'read', atMs: 1_001, revoked: false })).to.deep.equal({ ok: false, reason: 'number 77 is client "alice"\'s' });
    // Durable, and read back by the next process.
    expect(ClientRegistry.load(dir, root).lookup(77)).to.deep.include({ client: 'alice', role: 'read' });
    const revoked = registry.apply({ t: 'client.set', id: 3, client: 'alice', number: 0, role: 'read', atMs: 2_000, revoked: true });
    expect(revoked).to.deep.include({ ok: true, key: null });
    expect(ClientRegistry.load(dir, root).lookup(77)).to.deep.include({ revoked: true });
    // An older issue arriving late does not undo the revocation.
    registry.apply({ t: 'client.set', id: 1, client: 'alice', number: 77, role: 'read', atMs: 1_000, revoked: false });
    expect(registry.lookup(77)).to.deep.include({ revoked: true });
    // Issued again: a new number and a new key; the old number is gone.
    registry.apply({ t: 'client.set', id: 4, client: 'alice', number: 78, role: 'write', atMs: 3_000, revoked: false });
    expect(registry.lookup(77)).to.equal(null);
    expect(registry.lookup(78)).to.deep.include({ role: 'write', revoked: false });
    expect(readFileSync(join(dir, 'clients.json'), 'utf8')).to.not.match(/[0-9a-f]{64}/);
  });

  it('a missing or damaged credential file is one line naming it and what to do', () => {
    expect(() => loadCredential(join(dir, 'nope'))).to.throw(Error, /^no credentials at .*nope: .*kvc client add <id> --role read\|write\|admin/);
    writeFileSync(join(dir, 'bad'), '{"version":1,"client":"x","number":1,"key":"zz"}');
    expect(() => loadCredential(join(dir, 'bad'))).to.throw(Error, /bad: key: expected 64 hex digits/);
  });
});
