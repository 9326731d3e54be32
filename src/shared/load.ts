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
  /**
   * Line protocol only: clients ask for message ids (`CAP ids`), and when a connection is lost they reconnect
   * by themselves (jittered backoff, the next target after a failed connect) and `RESUME` where they were.
   * The report's `storm` says what came back.
   */
  resume: boolean
  /**
   * A reconnect storm this long after sending starts (0: none; needs `resume`): the traffic lab restarts its
   * own server (or its node of a cluster); a load generator that does not own the server cuts every
   * client's connection at once instead.
   */
  stormAfterMs: number
  /** Over TLS, to `tls+` listeners (null: plaintext): a CA file to trust (else the system's), or any certificate. */
  tls: LoadTls | null
  /**
   * Line protocol, a server with users: every client logs in as this user first (`AUTH`). Never kept or
   * reported with its password (withoutPassword).
   */
  auth: LoadAuth | null
}

export interface LoadAuth {
  user: string
  password: string
}

/** The config as it may be kept (settings) and shown (reports): the password left out, empty. */
export function withoutPassword(config: LoadConfig): LoadConfig {
  return config.auth === null ? config : { ...config, auth: { user: config.auth.user, password: '' } }
}

export interface LoadTls {
  ca: string | null
  /** Accept any certificate: a test server's own, never a server one cares about. */
  insecure: boolean
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
  /** connect() to connected (over TLS: handshake done), in ms. */
  connectMs: Percentiles
  /** Over TLS: TCP connected to handshake done, in ms; null in plaintext. */
  handshakeMs: Percentiles | null
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
  /** With `resume`: the reconnections and what they got back; null otherwise. */
  storm: StormReport | null
  note?: string
}

/** What resuming clients went through in a run (LoadConfig.resume), a reconnect storm or any lost connection. */
export interface StormReport {
  /** The storm made, as it happened ('server restarted in 130 ms', 'every connection cut'); null if none was made. */
  made: string | null
  /** Connections lost during the run. */
  lost: number
  /** Reconnections that resumed (their RESUME answered to RESUME-END). */
  resumed: number
  /** Clients not back in their room when the run ended. */
  unresumed: number
  /** Messages replayed to clients by their RESUMEs. */
  recovered: number
  /** Resumes answered `ERR history-gone`: those clients may have missed what the server no longer kept. */
  gaps: number
  /** Messages a client got twice. Should be 0. */
  duplicates: number
  /** Messages that never came back to their sender: in flight when its connection went, and not kept. */
  lostInFlight: number
  /** From a connection's loss to its RESUME-END, ms. */
  recoverMs: Percentiles
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
  allowRemote: false,
  resume: false,
  stormAfterMs: 0,
  tls: null,
  auth: null
}

/** Whether every room's members saw its messages in one order, in words (the CLI and the panel say the same). */
export function describeOrder({ rooms, split }: LoadReport['order']): string {
  if (rooms === 0) return 'nothing to compare'
  const all = `${rooms.toLocaleString('en-US')} room${rooms > 1 ? 's' : ''}`
  return split === 0 ? `one order in each of ${all}` : `members saw different orders in ${split.toLocaleString('en-US')} of ${all}`
}

const counted = (n: number, noun: string): string => `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`

/** A resume's time in ms: whole ms with thousands separators, two decimals while they matter. */
const resumeMs = (ms: number): string => `${ms < 10 ? ms.toFixed(2) : Math.round(ms).toLocaleString('en-US')} ms`

/** The storm a run made, in words, or that it made none (its clients may still have lost connections). */
export function describeStormMade({ made, lost }: StormReport): string {
  return made ?? `no storm made; ${counted(lost, 'connection')} lost`
}

/**
 * What resuming clients went through, in two lines of words (the CLI prints them; the panel shows the same
 * figures row by row, its first row being describeStormMade).
 */
export function describeStorm(storm: StormReport): [string, string] {
  const { recoverMs } = storm
  const times = recoverMs.count > 0 ? ` (p50 ${resumeMs(recoverMs.p50)}, p99 ${resumeMs(recoverMs.p99)})` : ''
  // With no storm made, the made part already says how many were lost.
  const lost = storm.made === null ? '' : `; ${storm.lost.toLocaleString('en-US')} lost`
  return [
    `${describeStormMade(storm)}${lost}, ${storm.resumed.toLocaleString('en-US')} resumed${times}, ${storm.unresumed.toLocaleString('en-US')} unresumed`,
    `recovered ${counted(storm.recovered, 'message')}, ${counted(storm.gaps, 'gap')}, ${counted(storm.duplicates, 'duplicate')}, ` +
      `${storm.lostInFlight.toLocaleString('en-US')} lost in flight`
  ]
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
