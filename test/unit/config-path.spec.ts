import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { findConfigPath, packageConfigPath } from '../../src/client/config-path.js';

describe('cli/config-path: which nodes.toml a client reads', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-config-path-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('--config first, then KV_CONFIG, each relative to the working directory', () => {
    writeFileSync(join(dir, 'nodes.toml'), '');
    expect(findConfigPath('other.toml', { KV_CONFIG: 'env.toml' }, dir)).to.equal(join(dir, 'other.toml'));
    expect(findConfigPath(undefined, { KV_CONFIG: 'env.toml' }, dir)).to.equal(join(dir, 'env.toml'));
  });

  it('then ./nodes.toml if there is one, else the package\'s own', () => {
    expect(findConfigPath(undefined, {}, dir)).to.equal(packageConfigPath);
    writeFileSync(join(dir, 'nodes.toml'), '');
    expect(findConfigPath(undefined, {}, dir)).to.equal(join(dir, 'nodes.toml'));
    expect(packageConfigPath.endsWith('/nodes.toml')).to.equal(true);
  });
});
