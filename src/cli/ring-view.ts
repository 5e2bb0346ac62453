// `kvc ring` and `kvc ring plan`: the live ring as a replica reports it, and what a change would do.
//
// Replicas do not yet hold a ring of their own (the ring-change mechanism in src/core/ring is not
// wired into them), so every live ring is epoch 0, the ring of nodes.toml. It is read from a replica's
// status (its ranges, replica sets and UP/DOWN view), checked against the equal-range placement of
// those members, and completed with their addresses from this nodes.toml. Once status carries the
// epoch, the members and the change in flight, `ringFromStatus` reads those instead.
import { isIPv4 } from 'node:net';
import type { StatusReport } from '../core/messages.js';
import { plan, type Plan } from '../core/ring/plan.js';
import { firstRing, formatRanges, holdings, membersProblem, type RingChange, type RingState } from '../core/ring/state.js';
import { describeChange, slotReplicas } from '../core/ring/steps.js';
import type { ClusterConfig } from '../core/types.js';
import { isHostname } from '../io/config.js';
import { BadInputError, InvalidRequestError, NoResponseError, type KvClient } from '../client/client.js';

export interface LiveRing { ring: RingState; reportedBy: string; down: Set<string> }

/** The ring as one replica reports it: `node` if given, else the first in nodes.toml order that answers. */
export async function liveRing(client: KvClient, node: string | undefined): Promise<LiveRing> {
  const names = node === undefined ? client.config.nodes.map((n) => n.name) : [node];
  let last: unknown;
  for (const name of names) {
    try {
      return ringFromStatus(await client.status(name), client.config);
    } catch (e) {
      if (!(e instanceof NoResponseError) || node !== undefined) throw e;
      last = e;
    }
  }
  throw last;
}

/** A replica's status, read as a ring: epoch 0, its members in range order, their addresses from nodes.toml. */
export function ringFromStatus(s: StatusReport, config: ClusterConfig): LiveRing {
  const names = s.ring.map((r) => r.replicas[0]).filter((n): n is string => n !== undefined);
  const members = names.map((name) => {
    const spec = config.nodes.find((n) => n.name === name);
    if (spec === undefined) throw unreadable(`${s.node} reports member ${name}, which this nodes.toml does not list: kvc needs the cluster's own nodes.toml`);
    return { name, host: spec.host, port: spec.port };
  });
  const problem = membersProblem(members, s.replicationFactor);
  if (problem !== null) throw unreadable(`${s.node} reports a ring kvc can not read: ${problem}`);
  const ring = firstRing(members, s.replicationFactor);
  for (const r of s.ring) {
    for (let slot = r.first; slot <= r.last; slot++) {
      const want = slotReplicas(ring, slot).read;
      if (r.replicas.join() !== want.join()) throw unreadable(`${s.node} reports slots ${r.first}..${r.last} on ${r.replicas.join(', ')}, not slot ${slot} on ${want.join(', ')} as the equal-range ring of its members has it`);
    }
  }
  const down = new Set(s.peers.filter((p) => !p.up && p.name !== s.node).map((p) => p.name));
  return { ring, reportedBy: s.node, down };
}

/** The replica's status does not read as a ring kvc knows. */
function unreadable(message: string): InvalidRequestError {
  return new InvalidRequestError({ message });
}

/** A change from the words of `kvc ring plan …`; bad input is refused before anything is sent. */
export function changeFromArgs(a: { op: string; name: string; dead?: string; host?: string; port?: number }): RingChange {
  const member = () => {
    if (a.host === undefined || a.port === undefined) throw new BadInputError(`ring plan ${a.op}: --host and --port say where ${a.name} listens`);
    if (!(isIPv4(a.host) || isHostname(a.host)) || a.host === '0.0.0.0') throw new BadInputError(`--host: expected an IPv4 address or a hostname peers can send to, got ${JSON.stringify(a.host)}`);
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65_535) throw new BadInputError(`--port: expected an integer in 1..65535, got ${a.port}`);
    return { name: a.name, host: a.host, port: a.port };
  };
  switch (a.op) {
    case 'join': return { kind: 'join', member: member() };
    case 'leave': return { kind: 'leave', name: a.name };
    case 'remove': return { kind: 'remove', dead: a.name };
    case 'replace': return { kind: 'replace', dead: a.dead!, member: member() };
    default: throw new BadInputError(`ring plan: unknown change ${a.op}`);
  }
}

export function planOf(live: LiveRing, change: RingChange): Plan {
  const p = plan(live.ring, change, live.down);
  if (!p.ok) throw new BadInputError(`ring plan ${describeChange(change)}: ${p.error}`);
  return p.value;
}

// ---- output -------------------------------------------------------------------------------------

function epochText(live: LiveRing): string {
  return `epoch ${live.ring.epoch}${live.ring.epoch === 0 ? ' (the nodes.toml ring)' : ''}, as ${live.reportedBy} reports it`;
}

export function ringText(live: LiveRing): string {
  const { ring } = live;
  const width = Math.max(...ring.members.map((m) => m.name.length));
  const addressWidth = Math.max(...ring.members.map((m) => `${m.host}:${m.port}`.length));
  return [
    `ring at ${epochText(live)}; replication factor ${ring.replicationFactor}; ${ring.change === null ? 'no change in flight' : `in flight: ${describeChange(ring.change.change)} at step ${ring.change.step}`}`,
    ...ring.members.map((m) => {
      const h = holdings(ring.placement, m.name);
      return `  ${m.name.padEnd(width)}  ${`${m.host}:${m.port}`.padEnd(addressWidth)}  ${m.state.padEnd(7)}  ${(live.down.has(m.name) ? 'DOWN' : 'UP').padEnd(4)}  owns ${formatRanges(h.owned)}; holds ${h.slotsHeld} slots: ${formatRanges(h.held)}`;
    }),
    'slots 0..255 are the keys of the default byte-ordered ring; a member owns a range and holds copies of the RF-1 ranges before it',
  ].join('\n');
}

export function ringJson(live: LiveRing): Record<string, unknown> {
  const { ring } = live;
  return {
    ok: true, epoch: ring.epoch, reportedBy: live.reportedBy, replicationFactor: ring.replicationFactor,
    change: ring.change === null ? null : { description: describeChange(ring.change.change), step: ring.change.step, aborting: ring.change.aborting },
    members: ring.members.map((m) => {
      const h = holdings(ring.placement, m.name);
      return { name: m.name, host: m.host, port: m.port, state: m.state, up: !live.down.has(m.name), owned: h.owned, held: h.held, slotsHeld: h.slotsHeld };
    }),
  };
}

export function planText(live: LiveRing, p: Plan): string {
  const width = Math.max(...p.members.map((m) => m.name.length));
  const blocking = p.warnings.filter((w) => w.blocksCommit);
  return [
    `plan: ${p.description}, based on ${epochText(live)}; nothing changes until it is committed`,
    'slots held (keys of the default ring), before -> after:',
    ...p.members.map((m) => `  ${m.name.padEnd(width)}  ${m.role.padEnd(7)}  ${String(m.before?.slotsHeld ?? 0).padStart(3)} -> ${String(m.after?.slotsHeld ?? 0).padEnd(3)}`
      + `  owns ${m.before === null ? 'none' : formatRanges(m.before.owned)} -> ${m.after === null ? 'none' : formatRanges(m.after.owned)}${m.down ? '  (DOWN)' : ''}`),
    `copies to stream: ${p.copiesTotal} slot copies${p.copiesTotal === 0 ? '' : ', each from the replica that loses the slot (every surviving one where that one is dead)'}`,
    ...p.copies.map((c) => `  ${c.to} <- ${c.from.length === 0 ? 'nobody' : c.from.join(' + ')}: slots ${formatRanges(c.slots)} (${c.slotCount})`),
    `dropped at cleanup by replicas that no longer hold them: ${p.dropsTotal} slot copies`,
    'steps, one epoch each:',
    ...p.steps.map((s) => `  epoch ${s.epoch} ${s.step}: once ${s.waitsFor}`),
    ...(p.warnings.length === 0 ? ['warnings: none'] : p.warnings.map((w) => `${w.blocksCommit ? 'WOULD REFUSE COMMIT' : 'warning'}: ${w.message}`)),
    ...(blocking.length === 0 ? [] : [`a commit would be refused (${blocking.length} reason${blocking.length === 1 ? '' : 's'} above)`]),
  ].join('\n');
}

export function planJson(live: LiveRing, p: Plan): Record<string, unknown> {
  return { ok: true, reportedBy: live.reportedBy, ...p, commitWouldBeRefused: p.warnings.some((w) => w.blocksCommit) };
}
