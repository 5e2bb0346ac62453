// What a node's parts (the coordinator, hinted handoff) may do and see. The node supplies it; the
// parts stay as pure as the node itself and never reach into each other.
import type { LogEvent } from './effects.js';
import type { LogRecord } from './log-record.js';
import type { ClientReply, Message } from './messages.js';
import type { Placement } from './placement.js';
import type { RequestTracker } from './reliable.js';
import { formatKey } from './keyspace.js';
import type { Address, ClusterConfig, Key, NodeIndex } from './types.js';

export interface NodePorts {
  readonly self: NodeIndex;
  readonly name: string;
  readonly generation: number;
  /** Client writes sent (by their sentAtMs) before this are refused: the previous process may have run them. */
  readonly writesServedFromMs: number;
  readonly config: ClusterConfig;
  /** The ring at its current epoch, as a node looks keys up in it (placement.ts); replaced when a new epoch is adopted. */
  readonly ring: Placement;
  readonly requests: RequestTracker;
  /** The time of the step in progress, in whole ms. */
  nowMs(): number;
  /** The step's time with its fraction of a ms, for stamping (see hlc.counterPerMs). */
  clockMs(): number;
  /** As the failure detector sees it; this node is always up. */
  isUp(node: NodeIndex): boolean;
  /** Appends a log record; `then` runs once it is durable and applied to memory. */
  append(record: LogRecord, then: (() => void) | null): void;
  /** To a peer over the network, or to this node through the loopback (same code path). */
  sendPeer(to: NodeIndex, msg: Message): void;
  reply(client: Address, msg: ClientReply): void;
  log(level: LogEvent['level'], name: string, text: string): void;
  /** Counts a refused datagram or request under a reason (status, and the rate-limited drop summary). */
  countDrop(reason: string): void;
  /** False while this node's disk refuses log appends (full). */
  logWritable(): boolean;
  nameOf(node: NodeIndex): string;
  /** Why this node's clock cannot be trusted to stamp now (most peers disagree, or it was stepped back), or null. */
  clockProblem(): string | null;
}

export function summarizeKeys(keys: readonly Key[]): string {
  const named = keys.slice(0, 8).map(formatKey).join(', ');
  return keys.length <= 8 ? named : `${named} … ${keys.length - 8} more`;
}
