import { availableParallelism } from 'node:os'
import type { ClusterConfig, ListenerConfig } from '../../../shared/contract'
import { CODEC_NAMES, isCodecName } from '../codec'

export interface ServerOptions {
  listeners: ListenerConfig[]
  /** Logic worker threads; 0 runs the logic step inline on the I/O thread. */
  workers: number
  /** Simulated CPU-bound work per message in the logic step, in microseconds. */
  workUs: number
  maxLineBytes: number
  maxSessions: number
  maxOutputBytes: number
  /** The logic queue depth (frames) at which every socket's reading pauses; it resumes at half of it. */
  logicHighWater: number
  /** Frames one session may have in the logic queue; past it that session alone pauses, resuming at half. */
  sessionHighWater: number
  maxBatch: number
  /** A batch a worker has not finished after this (plus twice its simulated work) is redone inline. */
  batchTimeoutMs: number
  /** Rooms with more members than this announce JOINED, LEFT and NICK only to the session concerned. */
  presenceLimit: number
  /** A session that sends no complete frame for this long is closed; 0 = never. */
  idleTimeoutMs: number
  /** A session whose frame stays incomplete for this long is closed; 0 = never. */
  partialTimeoutMs: number
  /** Messages a session may send per second, on average; 0 = no limit. */
  maxRate: number
  /** Messages a session may send at once above its rate. */
  rateBurst: number
  /** How long stop() waits for queued output to reach peers before cutting them off. */
  shutdownDeadlineMs: number
  metricsIntervalMs: number
  /** The built piscina worker (out/main/logic-worker.js); needed when workers > 0. */
  workerFile?: string
  /** Line rooms and nicks shared with other nodes through Redis; absent: this process alone. */
  cluster?: ClusterConfig
}

export const DEFAULT_HOST = '127.0.0.1'

export const DEFAULTS: Omit<ServerOptions, 'listeners'> = {
  workers: Math.max(1, Math.min(4, availableParallelism())),
  workUs: 0,
  maxLineBytes: 4096,
  maxSessions: 10_000,
  maxOutputBytes: 1 << 20,
  logicHighWater: 8192,
  sessionHighWater: 256,
  maxBatch: 512,
  batchTimeoutMs: 2000,
  // Twitch stops sending JOIN/PART in channels above 1,000 users; past that, presence is N² lines.
  presenceLimit: 1000,
  idleTimeoutMs: 300_000,
  partialTimeoutMs: 30_000,
  // Far above a person typing and above a traffic-lab client of the default runs (a few hundred/s),
  // far below what one socket can push (hundreds of thousands/s).
  maxRate: 5000,
  rateBurst: 10_000,
  shutdownDeadlineMs: 5000,
  metricsIntervalMs: 250
}

/** Limits that must be at least 1 (a mark of 0 would refuse every frame forever), and those at least 0. */
const AT_LEAST_ONE = ['maxLineBytes', 'maxSessions', 'maxOutputBytes', 'logicHighWater', 'sessionHighWater', 'maxBatch', 'rateBurst'] as const
const AT_LEAST_ZERO = ['workers', 'workUs', 'batchTimeoutMs', 'presenceLimit', 'idleTimeoutMs', 'partialTimeoutMs', 'maxRate', 'shutdownDeadlineMs'] as const

/** Throws a RangeError naming the first option that makes no sense; the CLI and the host check theirs first. */
export function checkOptions(options: ServerOptions): void {
  for (const name of [...AT_LEAST_ONE, ...AT_LEAST_ZERO]) {
    const min = (AT_LEAST_ONE as readonly string[]).includes(name) ? 1 : 0
    const value = options[name]
    if (!Number.isFinite(value) || value < min) throw new RangeError(`server option ${name} must be a number >= ${min}, not ${value}`)
  }
}

/** Parses `codec:port` or `codec:host:port`, e.g. `line:7000`, `asio:127.0.0.1:7001`. */
export function parseListener(text: string): ListenerConfig {
  const parts = text.split(':')
  const [codec, host, portText] = parts.length === 2 ? [parts[0], DEFAULT_HOST, parts[1]] : parts
  if (parts.length < 2 || parts.length > 3 || !isCodecName(codec)) {
    throw new Error(`bad listener "${text}": expected codec:port or codec:host:port, codec one of ${CODEC_NAMES.join(', ')}`)
  }
  const port = Number(portText)
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    throw new Error(`bad listener "${text}": port must be 0-65535`)
  }
  return { codec, host: host || DEFAULT_HOST, port }
}
