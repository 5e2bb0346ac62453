// Traces are bounded in number and size, checked like every field of a message, and printed in
// Cassandra's shape.
import { expect } from 'chai';
import { datagramBytesMax, nodesMax, traceBytesMax, traceEventBytesMax, traceEventsMax, traceNoteBytesMax, traceReplicaEventsMax, valueBytesMaxCeiling } from '../../src/core/limits.js';
import { validate, type Message } from '../../src/core/messages.js';
import { clip, eventBytes, ReplicaTrace, sessionId, Trace, type TraceEvent, type TraceReport } from '../../src/core/trace.js';
import { Codec } from '../../src/io/codec.js';
import { traceJson, traceTable } from '../../src/cli/trace-table.js';
import { newKeyringText, parseKeyring } from '../../src/io/keyring.js';
import { peerKeys } from '../../src/io/keys.js';

const startUs = 1_700_000_000_000_000;
const what = { op: 'put' as const, key: 17, level: 'QUORUM' as const, client: '127.0.0.1:50000', sampled: false };

/** The largest event the core makes: every field set, text at its bound. */
function largest(i: number): Omit<TraceEvent, 'kind' | 'src' | 'atUs' | 'elapsedUs'> {
  const top = nodesMax - 1;
  return {
    peer: top, why: 'read-repair', n: Number.MAX_SAFE_INTEGER, m: Number.MAX_SAFE_INTEGER, stamp: [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, top],
    old: [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, top], nodes: [top, top, top], down: [top, top, top], note: 'x'.repeat(traceNoteBytesMax - 1) + String(i % 10),
  };
}

describe('trace', () => {
  it(`keeps at most ${traceEventsMax} events and ${traceBytesMax} bytes: past it one event counts the rest, and the decision is always last`, () => {
    const t = new Trace('s', 0, startUs, what);
    for (let i = 0; i < traceEventsMax * 3; i++) t.add('sent', startUs + i, { peer: 1, why: 'write' });
    const r = t.report('answered', startUs + 1_000, { n: 2, m: 2 });
    expect(r.events.length).to.be.at.most(traceEventsMax);
    expect(r.events.at(-2)!.kind).to.equal('truncated');
    expect(r.events.length - 2 + r.dropped, 'every event kept or counted').to.equal(traceEventsMax * 3);
    expect(r.events.at(-2)!.note).to.equal(`${r.dropped} more events left out (limits traceEventsMax ${traceEventsMax}, traceBytesMax ${traceBytesMax})`);
    expect(r.events.at(-1)!.kind).to.equal('answered');
    expect(r.durationUs).to.equal(1_000);
  });

  it(`a replica sends at most ${traceReplicaEventsMax} steps back`, () => {
    const t = new ReplicaTrace(1, startUs, 0, 'write');
    for (let i = 0; i < 20; i++) t.add('durable', startUs + i, { n: i });
    expect(t.events).to.have.length(traceReplicaEventsMax);
    expect(t.events[0]!.kind).to.equal('received');
  });

  it('a get answer with the largest value and the largest trace still fits one datagram', () => {
    const t = new Trace('0'.repeat(36), nodesMax - 1, startUs, { ...what, client: '255.255.255.255:65535' });
    for (let i = 0; i < traceEventsMax; i++) t.add('stale', Number.MAX_SAFE_INTEGER, largest(i));
    const trace = t.report('answered', Number.MAX_SAFE_INTEGER, largest(0));
    expect(trace.events.at(-2)!.kind, 'cut by bytes before the count').to.equal('truncated');
    const one: TraceEvent = { kind: 'repair-round', src: nodesMax - 1, atUs: Number.MAX_SAFE_INTEGER, elapsedUs: Number.MAX_SAFE_INTEGER, ...largest(0) };
    expect(eventBytes(one)).to.be.at.most(traceEventBytesMax);
    expect(new Codec(peerKeys(parseKeyring(newKeyringText(), 'a test keyring'), 0), valueBytesMaxCeiling).encode({ t: 'rw.ok', from: 0, id: 0, trace: [one] }).length, 'eventBytes is an upper bound').to.be.below(eventBytes(one) + 60);
    const msg: Message = { t: 'get.ok', id: Number.MAX_SAFE_INTEGER, key: 255, value: 'v'.repeat(valueBytesMaxCeiling), stamp: [Number.MAX_SAFE_INTEGER, 0, 1], coordinator: 'r'.repeat(64), trace };
    const bytes = new Codec(peerKeys(parseKeyring(newKeyringText(), 'a test keyring'), 0), valueBytesMaxCeiling).encode(msg);
    expect(bytes.length).to.be.at.most(datagramBytesMax);
  });

  it('goes through validation whole, and a bad trace is refused with the field named', () => {
    const t = new Trace('s1', 0, startUs, what);
    t.sent(1, 'write', startUs + 10);
    t.add('ack', startUs + 30, { peer: 1, n: t.latencyUs(1, startUs + 30), m: 1, stamp: null });
    const trace = t.report('answered', startUs + 31, { n: 1, m: 1 });
    const msg = { t: 'put.ok', id: 1, key: 17, stamp: [1, 0, 0], coordinator: 'replica-1', trace };
    const v = validate(msg);
    expect(v.ok && v.msg).to.deep.equal(msg);
    expect(trace.events[1]!.n).to.equal(20);
    const bad = (patch: Partial<TraceEvent>) => validate({ ...msg, trace: { ...trace, events: [{ ...trace.events[0]!, ...patch }] } });
    expect(bad({ kind: 'guessed' as TraceEvent['kind'] })).to.deep.include({ ok: false });
    expect(bad({ note: 'x'.repeat(traceNoteBytesMax + 1) })).to.deep.equal({ ok: false, reason: `trace.note: expected text of at most ${traceNoteBytesMax} bytes` });
    const many = validate({ t: 'rw.ok', from: 1, id: 2, trace: Array.from({ length: traceReplicaEventsMax + 1 }, () => trace.events[0]) });
    expect(many).to.deep.equal({ ok: false, reason: `trace: expected at most ${traceReplicaEventsMax} events` });
    expect(validate({ t: 'rr', from: 0, gen: 1, id: 1, key: 3, trace: true })).to.deep.include({ ok: true });
  });

  it('session ids sort by time and differ per request', () => {
    const a = sessionId(1_700_000_000_000, 2, 1);
    const b = sessionId(1_700_000_000_000, 2, 2);
    const c = sessionId(1_700_000_000_001, 0, 1);
    expect(a).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set([a, b, c]).size).to.equal(3);
    expect([c, b, a].sort()).to.deep.equal([a, b, c]);
  });

  it('clips a note to its bound in UTF-8 bytes', () => {
    expect(clip('short')).to.equal('short');
    const long = clip('é'.repeat(traceNoteBytesMax));
    expect(Buffer.byteLength(long, 'utf8')).to.be.at.most(traceNoteBytesMax);
    expect(long.endsWith('…')).to.equal(true);
  });

  it('prints Cassandra\'s table: the session above, the request first, Request complete last; JSON has the same rows', () => {
    const report: TraceReport = {
      session: '018bcfe5-7003-7000-8000-000000000001', coordinator: 0, op: 'put', key: 128, level: 'QUORUM', client: '127.0.0.1:5000',
      startedAtUs: 1_700_000_002_051_911, durationUs: 5_882, dropped: 0, sampled: false,
      events: [
        { kind: 'hint', src: 0, atUs: 1_700_000_002_051_911, elapsedUs: 0, peer: 2, why: 'down' },
        { kind: 'durable', src: 3, atUs: 1_700_000_002_055_648, elapsedUs: 877, n: 877 },
        { kind: 'ack', src: 0, atUs: 1_700_000_002_057_793, elapsedUs: 5_882, peer: 3, n: 5_882, m: 2 },
        { kind: 'answered', src: 0, atUs: 1_700_000_002_057_793, elapsedUs: 5_882, n: 2, m: 2, why: 'write' },
      ],
    };
    const names = ['replica-1', 'replica-2', 'replica-3', 'replica-4'];
    expect(traceTable(report, names)).to.equal([
      'Tracing session: 018bcfe5-7003-7000-8000-000000000001',
      '',
      ' activity                                         | timestamp       | source    | source_elapsed',
      '--------------------------------------------------+-----------------+-----------+---------------',
      ' put key 128 at QUORUM from 127.0.0.1:5000        | 22:13:22.051911 | replica-1 |              0',
      ' hint stored for replica-3 (it is DOWN)           | 22:13:22.051911 | replica-1 |              0',
      ' durable after 0.877 ms (log fsync, group commit) | 22:13:22.055648 | replica-4 |            877',
      ' ack from replica-4 after 5.882 ms (2 acked)      | 22:13:22.057793 | replica-1 |           5882',
      ' answered at ack 2 (2 needed)                     | 22:13:22.057793 | replica-1 |           5882',
      ' Request complete                                 | 22:13:22.057793 | replica-1 |           5882',
      '',
    ].join('\n'));
    const json = traceJson(report, names);
    expect(json.decision).to.equal('answered');
    expect((json.events as { activity: string; kind: string; peer?: string }[]).map((e) => [e.kind, e.peer, e.activity])).to.deep.equal([
      ['hint', 'replica-3', 'hint stored for replica-3 (it is DOWN)'],
      ['durable', undefined, 'durable after 0.877 ms (log fsync, group commit)'],
      ['ack', 'replica-4', 'ack from replica-4 after 5.882 ms (2 acked)'],
      ['answered', undefined, 'answered at ack 2 (2 needed)'],
    ]);
  });
});
