// The package's entry point: `import { KvClient } from 'ringkv'`. The client library and its
// named errors and result types; the replicas (kvd) and kvc are the package's programs.
export {
  KvClient, anyCoordinator,
  KvError, ClusterError, UnavailableError, TimeoutError, OverloadedError, InvalidRequestError, ForbiddenError, ClockSkewError,
  NoResponseError, CancelledError, BadInputError,
  type ErrorKind, type ClientOptions, type GetResult, type PutResult, type DelResult, type LocalResult, type RepairResult, type ClientCounters,
} from './client/client.js';
export type { StatusReport, PeerReport, RangeReport, AntiEntropyReport, RepairPeerResult } from './core/messages.js';
export type { Key, Level, Stamp, ClusterConfig, NodeSpec } from './core/types.js';
export { ConfigError } from './io/config.js';
