// The pieces of running on several machines that need no network: the bad-key notice and its rate
// limit, hostname resolution at start, the config digest.
import { expect } from 'chai';
import { configDigest } from '../../src/core/config-digest.js';
import { badCookieNotice, isBadCookieNotice, NoticeLimiter, noticeIntervalMs, noticesPerIntervalMax } from '../../src/io/cookie-notice.js';
import { Codec, tagBytes } from '../../src/io/codec.js';
import { clientKeys } from '../../src/io/keys.js';
import { parseConfig } from '../../src/io/config.js';
import { HostResolveError, resolveHosts } from '../../src/io/resolve.js';

const toml = (hosts: string[], rf = 2, extra = '') => [
  `replication_factor = ${rf}`, 'repair_mode = "both"', 'read_repair_blocking = true', 'data_dir = "data"', 'cookie_file = "data/cookie"',
  'gossip_interval_ms = 100', 'down_after_ms = 500', 'write_timeout_ms = 1000', 'read_timeout_ms = 1000', 'max_hint_window_ms = 1000',
  'hint_sweep_interval_ms = 100', 'anti_entropy_interval_ms = 0', 'value_bytes_max = 1000', 'max_clock_skew_ms = 500', extra,
  ...hosts.map((h, i) => `[[nodes]]\nname = "r${i + 1}"\nhost = "${h}"\nport = ${7101 + i}\n`),
].join('\n');

describe('several machines: notices, hostnames, digest', () => {
  it('a bad-cookie notice cannot be mistaken for a datagram, nor a datagram for a notice', () => {
    const codec = new Codec(clientKeys({ client: 'c', number: 1, key: Buffer.alloc(32, 7) }), 1000);
    expect(badCookieNotice.length).to.be.lessThan(tagBytes + 1);
    expect(codec.decode(badCookieNotice)).to.deep.include({ ok: false, error: 'short' });
    expect(isBadCookieNotice(codec.encode({ t: 'status', id: 1 }))).to.equal(false);
    expect(isBadCookieNotice(Buffer.from(badCookieNotice))).to.equal(true);
  });

  it('notices go at most once a second to an address, and a few a second in all', () => {
    const limiter = new NoticeLimiter();
    expect(limiter.allow('10.0.0.1:7101', 0)).to.equal(true);
    expect(limiter.allow('10.0.0.1:7101', noticeIntervalMs - 1)).to.equal(false);
    expect(limiter.allow('10.0.0.1:7101', noticeIntervalMs)).to.equal(true);
    const flood = new NoticeLimiter();
    const sent = Array.from({ length: 1000 }, (_, i) => flood.allow(`10.0.${i >> 8}.${i & 255}:1`, 5)).filter(Boolean).length;
    expect(sent).to.equal(noticesPerIntervalMax);
  });

  it('hostnames are resolved at start; one that does not resolve stops the start naming node and host', async () => {
    const cfg = parseConfig(toml(['db1.example', '10.0.0.2']));
    const resolved = await resolveHosts(cfg, async (h) => (h === 'db1.example' ? '10.0.0.1' : Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))));
    expect(resolved.nodes.map((n) => n.host)).to.deep.equal(['10.0.0.1', '10.0.0.2']);
    const failed = await resolveHosts(cfg, async () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).catch((e: unknown) => e);
    expect(failed).to.be.instanceOf(HostResolveError);
    expect((failed as Error).message).to.equal('r1: host "db1.example" does not resolve to an IPv4 address (ENOTFOUND)');
    const clash = await resolveHosts(parseConfig(toml(['a.example', 'b.example']).replace('port = 7102', 'port = 7101')), async () => '10.0.0.9').catch((e: unknown) => e);
    expect((clash as Error).message).to.equal('r2 and r1 both resolve to 10.0.0.9:7101');
  });

  it('the config digest covers nodes in order, RF and the value limit, and nothing a host may tune', () => {
    const base = configDigest(parseConfig(toml(['10.0.0.1', '10.0.0.2', '10.0.0.3'])));
    expect(base).to.match(/^[0-9a-f]{8}$/);
    expect(configDigest(parseConfig(toml(['10.0.0.1', '10.0.0.2', '10.0.0.3'], 3)))).to.not.equal(base);
    expect(configDigest(parseConfig(toml(['10.0.0.2', '10.0.0.1', '10.0.0.3'])))).to.not.equal(base);
    expect(configDigest(parseConfig(toml(['10.0.0.1', '10.0.0.2', '10.0.0.3']).replace('value_bytes_max = 1000', 'value_bytes_max = 999')))).to.not.equal(base);
    const tuned = toml(['10.0.0.1', '10.0.0.2', '10.0.0.3']).replace('gossip_interval_ms = 100', 'gossip_interval_ms = 50').replace('"both"', '"read-repair"')
      .replace('port = 7101\n', 'port = 7101\nlisten = "0.0.0.0"\n');
    expect(configDigest(parseConfig(tuned))).to.equal(base);
  });
});
