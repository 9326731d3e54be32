// The traffic lab's plain data: what a load run is asked to do, what it reports while it runs, and its
// final report. Shared by the load engine (core), the CLI, the host and the renderer.
import type { CodecName } from './telemetry'

export type LoadMode = 'closed' | 'open'

/** Where clients connect: a server, or one node of a cluster. */
export interface LoadTarget {
  host: string
  port: number
}

export interface LoadConfig {
  /**
   * Client i connects to targets[i % targets.length]: with several nodes of a cluster, every room has
   * members on every node, so what a room's members see crosses nodes.
   */
  targets: LoadTarget[]
  codec: CodecName
  clients: number
  /** New connections per second while ramping up; 0 = as fast as the machine allows. */
  connectRate: number
  /** closed: each client keeps at most `window` un-echoed messages; open: each sends `rate` messages/s. */
  mode: LoadMode
  window: number
  rate: number
  /** Messages each client sends; 0 = until durationMs. */
  messages: number
  /** Stop sending after this long; 0 = when every client has sent `messages`. */
  durationMs: number
  /** Body bytes of each message (the CHAT text, or the asio body). */
  size: number
  /** Line protocol only: clients are spread over rooms of this many members (0 = all in the lobby). */
  roomSize: number
  /** Load-generating processes the clients are spread over. */
  agents: number
  /** Longest wait for connections, for the room to fill, and for the last deliveries after sending stops. */
  timeoutMs: number
  /** A target that is not on this machine must be allowed explicitly. */
  allowRemote: boolean
}

export interface Percentiles {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

export type LoadPhase = 'connecting' | 'joining' | 'sending' | 'draining' | 'done'

/** A live sample, a few times a second; rates are over the last interval. */
export interface LoadProgress {
  runId: number
  elapsedMs: number
  phase: LoadPhase
  /** Connections open now. */
  open: number
  sent: number
  deliveries: number
  expected: number
  sentPerSec: number
  deliveriesPerSec: number
  /** Latency p99 over the last interval and over the whole run so far, in ms (null before any echo). */
  p99Ms: number | null
  p99SoFarMs: number | null
  errors: number
}

/** One target's share of a run. */
export interface TargetReport extends LoadTarget {
  /** Clients sent to it. */
  clients: number
  /** Of those, the ones that connected. */
  connected: number
  /** Frames of this run its clients received. */
  deliveries: number
}

export interface LoadReport {
  runId: number
  config: LoadConfig
  startedAt: number
  /** Every expected delivery arrived, no connection failed or dropped, no frame was misread. */
  complete: boolean
  /** Every message reaches every member of its sender's room, its sender included. */
  expected: number
  deliveries: number
  shortfall: number
  sent: number
  /** First send to last delivery. */
  durationMs: number
  deliveriesPerSec: number
  /** Messages that came back to their senders, per second. */
  messagesPerSec: number
  bytesInPerSec: number
  bytesOutPerSec: number
  /** A message's send to its sender seeing it, in ms. */
  latencyMs: Percentiles
  /** connect() to connected, in ms. */
  connectMs: Percentiles
  connectErrors: number
  /** Connections closed before the run ended. */
  disconnects: number
  /** Connect failures and disconnects by reason (ECONNREFUSED, closed by server, ERR server-full ...). */
  errors: Record<string, number>
  /** Frames whose tag could not be read, and echoes out of their sender's order. */
  protocolErrors: number
  /**
   * Rooms whose members saw its messages in more than one order (from each client's rolling hash of
   * sender and sequence in arrival order), of the rooms that had members to compare.
   */
  order: { rooms: number; split: number }
  /** Per target, in the config's order. */
  targets: TargetReport[]
  /** Each agent process's CPU over the run, as a share of one core. */
  agentCpu: number[]
  note?: string
}

/** Defaults: a modest closed-loop broadcast on the line codec. Where it goes has no default. */
export const LOAD_DEFAULTS: Omit<LoadConfig, 'targets'> = {
  codec: 'line',
  clients: 100,
  connectRate: 0,
  mode: 'closed',
  window: 8,
  rate: 10,
  messages: 100,
  durationMs: 0,
  size: 64,
  roomSize: 0,
  agents: 1,
  timeoutMs: 60_000,
  allowRemote: false
}

/** Whether every room's members saw its messages in one order, in words (the CLI and the panel say the same). */
export function describeOrder({ rooms, split }: LoadReport['order']): string {
  if (rooms === 0) return 'nothing to compare'
  const all = `${rooms.toLocaleString('en-US')} room${rooms > 1 ? 's' : ''}`
  return split === 0 ? `one order in each of ${all}` : `members saw different orders in ${split.toLocaleString('en-US')} of ${all}`
}

/** `host:port`, an IPv6 address in brackets (`[::1]:7000`); null when it is not of that form. */
export function parseTarget(text: string): LoadTarget | null {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):([0-9]+)$/.exec(text.trim())
  return match ? { host: match[1] ?? match[2], port: Number(match[3]) } : null
}

/** A listener bound to every interface is reached over loopback: the load must not leave the machine. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '::1'
  return host
}

export const formatTarget = ({ host, port }: LoadTarget): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)
