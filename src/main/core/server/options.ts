import { availableParallelism } from 'node:os'
import { CODEC_NAMES, isCodecName, type CodecName } from '../codec'

export interface ListenerSpec {
  codec: CodecName
  port: number
  host: string
}

export interface ServerOptions {
  listeners: ListenerSpec[]
  /** Logic worker threads; 0 runs the logic step inline on the I/O thread. */
  workers: number
  /** Simulated CPU-bound work per message in the logic step, in microseconds. */
  workUs: number
  maxLineBytes: number
  maxSessions: number
  maxOutputBytes: number
  /** The logic queue depth (frames) at which socket reads pause; they resume at half of it. */
  logicHighWater: number
  maxBatch: number
  /** How long stop() waits for queued output to reach peers before cutting them off. */
  shutdownDeadlineMs: number
  metricsIntervalMs: number
  /** The built piscina worker (out/main/logic-worker.js); needed when workers > 0. */
  workerFile?: string
}

export const DEFAULT_HOST = '127.0.0.1'

export const DEFAULTS: Omit<ServerOptions, 'listeners'> = {
  workers: Math.max(1, Math.min(4, availableParallelism())),
  workUs: 0,
  maxLineBytes: 4096,
  maxSessions: 10_000,
  maxOutputBytes: 1 << 20,
  logicHighWater: 8192,
  maxBatch: 512,
  shutdownDeadlineMs: 5000,
  metricsIntervalMs: 250
}

/** Parses `codec:port` or `codec:host:port`, e.g. `line:7000`, `asio:127.0.0.1:7001`. */
export function parseListener(text: string): ListenerSpec {
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
