import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, nodeIndexByName, parseConfig } from '../../src/io/config.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const committedPath = join(repo, 'nodes.toml');
const committed = readFileSync(committedPath, 'utf8');

/** The committed file with one edit; the edit must apply exactly once. */
function edited(from: string, to: string): string {
  expect(committed.split(from).length, `edit "${from}" applies once`).to.equal(2);
  return committed.replace(from, to);
}

function refusal(text: string): ConfigError {
  try {
    parseConfig(text, 'test.toml', '/base');
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).name).to.equal('ConfigError');
    return e as ConfigError;
  }
  return expect.fail('expected a ConfigError');
}

const fourNodes = (port4: string) => [1, 2, 3, 4].map((i) => `[[nodes]]\nname = "r${i}"\nhost = "127.0.0.1"\nport = ${i === 4 ? port4 : 7100 + i}\n`).join('\n');

describe('io/config', () => {
  it('loads the committed nodes.toml: 4 nodes, RF 3, paths relative to the file', () => {
    const cfg = loadConfig(committedPath);
    expect(cfg.nodes.map((n) => `${n.name}@${n.host}:${n.port}`)).to.deep.equal([
      'replica-1@127.0.0.1:7101', 'replica-2@127.0.0.1:7102', 'replica-3@127.0.0.1:7103', 'replica-4@127.0.0.1:7104',
    ]);
    expect(cfg).to.deep.include({
      replicationFactor: 3, repairMode: 'hinted-handoff', readRepairBlocking: true,
      gossipIntervalMs: 200, downAfterMs: 1000, writeTimeoutMs: 1000, readTimeoutMs: 1000,
      maxHintWindowMs: 10_800_000, hintSweepIntervalMs: 1000, antiEntropyIntervalMs: 10_000, valueBytesMax: 60_000, maxClockSkewMs: 500,
      dataDir: join(repo, 'data'), cookieFile: join(repo, 'data', 'cookie'),
    });
    expect(nodeIndexByName(cfg, 'replica-3')).to.equal(2);
  });

  it('resolves relative paths against baseDir and keeps absolute ones', () => {
    const cfg = parseConfig(edited('data_dir = "data"', 'data_dir = "/var/lib/ringkv"'), 'x.toml', '/etc/ringkv');
    expect(cfg.dataDir).to.equal('/var/lib/ringkv');
    expect(cfg.cookieFile).to.equal('/etc/ringkv/data/cookie');
  });

  it('accepts every repair mode', () => {
    for (const mode of ['hinted-handoff', 'read-repair', 'both']) {
      expect(parseConfig(edited('"hinted-handoff"', `"${mode}"`)).repairMode).to.equal(mode);
    }
  });

  it('names the line and column of a TOML syntax error', () => {
    const e = refusal(edited('port = 7104', 'port = 7x04'));
    expect(e.message).to.match(/^test\.toml: line \d+, column \d+: invalid TOML: /);
    const line = committed.split('\n').findIndex((l) => l === 'port = 7104') + 1;
    expect(e.message).to.contain(`line ${line}, column 9`);
    expect(refusal('replication_factor = 3\nrepair_mode = \n').message).to.match(/^test\.toml: line 2, column \d+: invalid TOML/);
  });

  it('refuses unknown keys, top level and per node', () => {
    expect(refusal(edited('replication_factor = 3', 'replication_factr = 3')).message)
      .to.match(/^test\.toml: replication_factr: unknown key \(known keys: replication_factor, /);
    expect(refusal(edited('port = 7102', 'port = 7102\nweight = 2')).message)
      .to.equal('test.toml: nodes[1].weight: unknown key (known keys: name, host, port, listen, metrics_port)');
  });

  it('refuses missing fields', () => {
    expect(refusal(edited('read_timeout_ms = 1000\n', '')).message)
      .to.equal('test.toml: read_timeout_ms: expected an integer in 1..600000, got nothing (the field is missing)');
    expect(refusal(edited('host = "127.0.0.1"\nport = 7103\n', 'port = 7103\n')).message).to.match(/^test\.toml: nodes\[2\]\.host: expected an IPv4 address/);
    expect(refusal(committed.slice(0, committed.indexOf('[[nodes]]'))).message).to.match(/^test\.toml: nodes: expected 1\.\.64 \[\[nodes\]\] tables, got nothing/);
  });

  it('refuses wrong types', () => {
    expect(refusal(edited('port = 7101', 'port = "7101"')).message)
      .to.equal('test.toml: nodes[0].port: expected an integer in 1..65535, got "7101" (a string)');
    expect(refusal(edited('value_bytes_max = 60000', 'value_bytes_max = 600.5')).message).to.contain('value_bytes_max: expected an integer in 1..60000, got 600.5 (a float)');
    expect(refusal(edited('read_repair_blocking = true', 'read_repair_blocking = "yes"')).message).to.contain('read_repair_blocking: expected true or false, got "yes" (a string)');
    expect(refusal(edited('data_dir = "data"', 'data_dir = 5')).message).to.contain('data_dir: expected a non-empty path, got 5');
    expect(refusal(edited('cookie_file = "data/cookie"', 'cookie_file = ""')).message).to.contain('cookie_file: expected a non-empty path, got "" (a string)');
    expect(refusal(committed.replace(/\[\[nodes\]\][^]*$/, 'nodes = [1, 2]\n')).message).to.contain('nodes[0]: expected a table with name, host and port, got 1');
    expect(refusal(committed.replace(/\[\[nodes\]\][^]*$/, '[nodes]\nname = "a"\n')).message).to.contain('nodes: expected an array of [[nodes]] tables, got a table');
  });

  it('refuses integers out of range', () => {
    expect(refusal(edited('port = 7101', 'port = 0')).message).to.contain('nodes[0].port: expected an integer in 1..65535, got 0');
    expect(refusal(edited('port = 7101', 'port = 65536')).message).to.contain('nodes[0].port: expected an integer in 1..65535, got 65536');
    expect(refusal(edited('write_timeout_ms = 1000', 'write_timeout_ms = 0')).message).to.contain('write_timeout_ms: expected an integer in 1..600000, got 0');
    expect(refusal(edited('gossip_interval_ms = 200', 'gossip_interval_ms = -5')).message).to.contain('gossip_interval_ms: expected an integer in 1..60000, got -5');
    expect(refusal(edited('max_hint_window_ms = 10800000', 'max_hint_window_ms = 99999999999999999999')).message)
      .to.contain('max_hint_window_ms: expected an integer in 1..604800000, got 99999999999999999999');
    expect(refusal(edited('value_bytes_max = 60000', 'value_bytes_max = 0')).message).to.contain('value_bytes_max: expected an integer in 1..60000, got 0');
    expect(refusal(edited('value_bytes_max = 60000', 'value_bytes_max = 60001')).message).to.contain('value_bytes_max: expected an integer in 1..60000, got 60001');
    expect(refusal(edited('write_timeout_ms = 1000', 'write_timeout_ms = 59001')).message)
      .to.contain('write_timeout_ms: expected at most 59000 (a client waits this plus 1000 ms, and a request may live at most 60000 ms), got 59001');
    expect(parseConfig(edited('read_timeout_ms = 1000', 'read_timeout_ms = 59000')).readTimeoutMs).to.equal(59_000);
    expect(refusal(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 0')).message).to.contain('max_clock_skew_ms: expected an integer in 1..60000, got 0');
    expect(refusal(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 60001')).message).to.contain('max_clock_skew_ms: expected an integer in 1..60000, got 60001');
    expect(refusal(edited('max_clock_skew_ms = 500\n', '')).message).to.contain('max_clock_skew_ms: expected an integer in 1..60000, got nothing (the field is missing)');
  });

  it('refuses an unknown repair mode', () => {
    expect(refusal(edited('"hinted-handoff"', '"merkle"')).message)
      .to.equal('test.toml: repair_mode: expected one of "hinted-handoff", "read-repair", "both", got "merkle" (a string)');
  });

  it('refuses a replication factor below 1 or above the number of nodes', () => {
    expect(refusal(edited('replication_factor = 3', 'replication_factor = 0')).message).to.contain('replication_factor: expected an integer in 1..4 (at most the number of nodes), got 0');
    expect(refusal(edited('replication_factor = 3', 'replication_factor = 5')).message).to.contain('replication_factor: expected an integer in 1..4 (at most the number of nodes), got 5');
  });

  it('refuses down_after_ms not greater than gossip_interval_ms', () => {
    expect(refusal(edited('down_after_ms = 1000', 'down_after_ms = 200')).message).to.match(/^test\.toml: down_after_ms: expected more than gossip_interval_ms \(200\).*got 200$/);
  });

  it('refuses duplicate node names and duplicate host:port', () => {
    expect(refusal(edited('name = "replica-3"', 'name = "replica-1"')).message)
      .to.equal('test.toml: nodes[2].name: expected a name no other node has, got "replica-1" (also the name of nodes[0])');
    expect(refusal(edited('port = 7104', 'port = 7102')).message)
      .to.equal('test.toml: nodes[3]: expected a host:port no other node has, got 127.0.0.1:7102 (also the address of nodes[1])');
    // The same port on another host is a different address.
    expect(parseConfig(edited('host = "127.0.0.1"\nport = 7104', 'host = "127.0.0.2"\nport = 7101')).nodes[3]).to.deep.equal({ name: 'replica-4', host: '127.0.0.2', port: 7101 });
  });

  it('refuses a host that is neither an IPv4 dotted quad nor a hostname', () => {
    for (const host of ['::1', '127.0.0', '256.0.0.1', '127.0.0.01', ' 127.0.0.1', '0.0.0.0', 'a_b.example', '-x.example', 'x..y', '']) {
      expect(refusal(edited('host = "127.0.0.1"\nport = 7101', `host = "${host}"\nport = 7101`)).message, host).to.match(/^test\.toml: nodes\[0\]\.host: expected an (IPv4 address|address peers can send to)/);
    }
  });

  it('takes hostnames in host (resolved at start) and an optional listen address to bind', () => {
    const cfg = parseConfig(edited('host = "127.0.0.1"\nport = 7101', 'host = "db1.example.net"\nlisten = "0.0.0.0"\nport = 7101'));
    expect(cfg.nodes[0]).to.deep.equal({ name: 'replica-1', host: 'db1.example.net', port: 7101, listen: '0.0.0.0' });
    expect(cfg.nodes[1]).to.deep.equal({ name: 'replica-2', host: '127.0.0.1', port: 7102 });
    expect(parseConfig(edited('host = "127.0.0.1"\nport = 7101', 'host = "localhost"\nport = 7101')).nodes[0]!.host).to.equal('localhost');
    expect(refusal(edited('host = "127.0.0.1"\nport = 7101', 'host = "127.0.0.1"\nlisten = "any"\nport = 7101')).message)
      .to.equal('test.toml: nodes[0].listen: expected an IPv4 address to bind, like "0.0.0.0" or "10.0.0.3", got "any" (a string)');
  });

  it('requires max_clock_skew_ms in 1..60000', () => {
    for (const bad of ['0', '60001', '"500"']) {
      expect(refusal(edited('max_clock_skew_ms = 500', `max_clock_skew_ms = ${bad}`)).message).to.match(/^test\.toml: max_clock_skew_ms: expected an integer in 1\.\.60000, got /);
    }
    expect(refusal(edited('max_clock_skew_ms = 500\n', '')).message).to.equal('test.toml: max_clock_skew_ms: expected an integer in 1..60000, got nothing (the field is missing)');
    expect(parseConfig(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 60000')).maxClockSkewMs).to.equal(60_000);
  });

  it('takes optional trace_probability (0..1) and slow_request_ms, both off when absent', () => {
    expect(parseConfig(committed)).to.deep.include({ traceProbability: 0, slowRequestMs: 0 });
    expect(parseConfig(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 500\ntrace_probability = 0.001\nslow_request_ms = 200'))).to.deep.include({
      traceProbability: 0.001, slowRequestMs: 200,
    });
    expect(parseConfig(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 500\ntrace_probability = 1')).traceProbability).to.equal(1);
    expect(refusal(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 500\ntrace_probability = 1.5')).message)
      .to.equal('test.toml: trace_probability: expected a number in 0..1 (0: no request is traced unasked), got 1.5 (a float)');
    expect(refusal(edited('max_clock_skew_ms = 500', 'max_clock_skew_ms = 500\nslow_request_ms = -1')).message)
      .to.equal('test.toml: slow_request_ms: expected an integer in 0..600000 (0 turns the slow-request log off), got -1');
  });

  it('refuses zero nodes or more than nodesMax', () => {
    const head = committed.slice(0, committed.indexOf('[[nodes]]'));
    expect(refusal(head + 'nodes = []\n').message).to.contain('nodes: expected 1..64 [[nodes]] tables, got 0');
    const many = Array.from({ length: 65 }, (_, i) => `[[nodes]]\nname = "r${i}"\nhost = "10.0.0.1"\nport = ${7000 + i}\n`).join('');
    expect(refusal(head.replace('replication_factor = 3', 'replication_factor = 1') + many).message).to.contain('nodes: expected 1..64 [[nodes]] tables, got 65');
  });

  it('refuses node names that are empty, too long or with other characters', () => {
    for (const name of ['', 'x'.repeat(65), 'replica 1', 'réplica', 'a/b']) {
      expect(refusal(edited('name = "replica-1"', `name = "${name}"`)).message, name).to.match(/^test\.toml: nodes\[0\]\.name: expected a name of 1\.\.64 characters from A-Z a-z 0-9 _ \. -, got /);
    }
    expect(parseConfig(edited('name = "replica-1"', `name = "${'x'.repeat(64)}"`)).nodes[0]?.name).to.have.length(64);
  });

  it('checks a small hand-written cluster', () => {
    const head = committed.slice(0, committed.indexOf('[[nodes]]'));
    expect(parseConfig(head + fourNodes('7104')).nodes).to.have.length(4);
    expect(refusal(head + fourNodes('7104.0')).message).to.contain('nodes[3].port: expected an integer in 1..65535, got 7104 (a float)');
  });

  it('names the missing file, and an unknown node with the known ones', () => {
    expect(() => loadConfig('/nonexistent/nodes.toml')).to.throw(ConfigError, '/nonexistent/nodes.toml: cannot read the cluster config: no such file');
    const cfg = loadConfig(committedPath);
    expect(() => nodeIndexByName(cfg, 'replica-9')).to.throw(ConfigError, 'expected one of replica-1, replica-2, replica-3, replica-4, got "replica-9"');
  });
});

describe('io/config: partitioner and key_bytes_max', () => {
  it('default to byte-ordered, so a file written before them keeps its meaning', () => {
    const cfg = parseConfig(edited('partitioner = "byte-ordered"\n', ''));
    expect(cfg.partitioner).to.equal('byte-ordered');
    expect(parseConfig(committed).partitioner).to.equal('byte-ordered');
  });

  it('hashed takes key_bytes_max, 256 when absent', () => {
    expect(parseConfig(edited('partitioner = "byte-ordered"', 'partitioner = "hashed"'))).to.deep.include({ partitioner: 'hashed', keyBytesMax: 256 });
    expect(parseConfig(edited('partitioner = "byte-ordered"', 'partitioner = "hashed"\nkey_bytes_max = 64')).keyBytesMax).to.equal(64);
  });

  it('refuses another partitioner, a key_bytes_max out of range, and one without hashed', () => {
    expect(refusal(edited('partitioner = "byte-ordered"', 'partitioner = "random"')).message)
      .to.equal('test.toml: partitioner: expected one of "byte-ordered", "hashed", got "random" (a string)');
    expect(refusal(edited('partitioner = "byte-ordered"', 'partitioner = "hashed"\nkey_bytes_max = 2000')).message)
      .to.equal('test.toml: key_bytes_max: expected an integer in 1..1024, got 2000');
    expect(refusal(edited('partitioner = "byte-ordered"', 'key_bytes_max = 64')).message).to.match(/^test\.toml: key_bytes_max: expected no key_bytes_max unless partitioner = "hashed"/);
  });
});
