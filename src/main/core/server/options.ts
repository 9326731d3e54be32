import { availableParallelism } from 'node:os'
import { DEFAULT_LIMITS, type ListenerConfig, type ServerLimits } from '../../../shared/contract'
import { CODEC_NAMES, isCodecName } from '../codec'
import type { LineBackendFactory } from './line-backend'

/** The limits (sessions, sizes, rates, timeouts) are the contract's ServerLimits, declared there once. */
export interface ServerOptions extends ServerLimits {
  listeners: ListenerConfig[]
  /** Logic worker threads; 0 runs the logic step inline on the I/O thread. */
  workers: number
  /** Simulated CPU-bound work per message in the logic step, in microseconds. */
  workUs: number
  /** The logic queue depth (frames) at which every socket's reading pauses; it resumes at half of it. */
  logicHighWater: number
  /** Frames one session may have in the logic queue; past it that session alone pauses, resuming at half. */
  sessionHighWater: number
  maxBatch: number
  /** A batch a worker has not finished after this (plus twice its simulated work) is redone inline. */
  batchTimeoutMs: number
  /** How long stop() waits for queued output to reach peers before cutting them off. */
  shutdownDeadlineMs: number
  metricsIntervalMs: number
  /** The built piscina worker (out/main/logic-worker.js); needed when workers > 0. */
  workerFile?: string
  /**
   * The line listeners' rooms and nicks, as the composition root chooses: absent, this process's own
   * (LineChat); `clusterBackend(config)` shares them with a cluster's other nodes through Redis.
   */
  lineBackend?: LineBackendFactory
  /** The certificate of the TLS listeners (`tls: true`), as files: read at start, and again by reload(). */
  tls?: TlsFiles
  /**
   * A users file (`<name> <scrypt hash>` per line): line sessions must then log in (AUTH) before they chat.
   * Read when the server is made, and again by reload().
   */
  usersFile?: string
  /** How long the answer to a wrong password waits. */
  authFailDelayMs: number
  /** TLS handshakes started per event-loop turn, between the turn's reads (0: all at once; see TlsTerminator). */
  tlsHandshakesPerTurn: number
}

/** PEM files: the server's certificate (chain) and key, and a CA whose client certificates it then requires. */
export interface TlsFiles {
  cert: string
  key: string
  ca?: string
}

export const DEFAULT_HOST = '127.0.0.1'

export const DEFAULTS: Omit<ServerOptions, 'listeners'> = {
  workers: Math.max(1, Math.min(4, availableParallelism())),
  workUs: 0,
  ...DEFAULT_LIMITS,
  logicHighWater: 8192,
  sessionHighWater: 256,
  maxBatch: 512,
  batchTimeoutMs: 2000,
  shutdownDeadlineMs: 5000,
  metricsIntervalMs: 250,
  authFailDelayMs: 1000,
  tlsHandshakesPerTurn: 4
}

type NumericOption = { [K in keyof ServerOptions]-?: ServerOptions[K] extends number ? K : never }[keyof ServerOptions]

/**
 * The least each numeric option may be: 1 for sizes and marks (a mark of 0 would refuse every frame
 * forever), 0 for the rest (0 often meaning none or never). The host's checks of a start take theirs from here.
 */
export const OPTION_MINIMUM: Record<NumericOption, 0 | 1> = {
  maxLineBytes: 1,
  maxSessions: 1,
  maxOutputBytes: 1,
  maxTotalOutputBytes: 1,
  historyBytes: 1,
  maxTotalHistoryBytes: 1,
  logicHighWater: 1,
  sessionHighWater: 1,
  maxBatch: 1,
  rateBurst: 1,
  // A period of 0 would emit snapshots back to back.
  metricsIntervalMs: 1,
  workers: 0,
  workUs: 0,
  batchTimeoutMs: 0,
  presenceLimit: 0,
  idleTimeoutMs: 0,
  partialTimeoutMs: 0,
  softOutputBytes: 0,
  softOutputMs: 0,
  historyMessages: 0,
  maxRate: 0,
  shutdownDeadlineMs: 0,
  authFailDelayMs: 0,
  tlsHandshakesPerTurn: 0
}

/** Throws a RangeError naming the first option that makes no sense; the CLI and the host check theirs first. */
export function checkOptions(options: ServerOptions): void {
  const tlsListener = options.listeners.find((listener) => listener.tls)
  if (tlsListener && !options.tls) throw new Error(`listener ${listenerName(tlsListener, tlsListener.port)} needs a certificate and key (--tls-cert, --tls-key)`)
  // Asio's framing has no commands: a session there could never log in, and would chat unauthenticated.
  const asioListener = options.listeners.find((listener) => listener.codec === 'asio')
  if (asioListener && options.usersFile !== undefined) throw new Error(`listener ${listenerName(asioListener, asioListener.port)} cannot ask for a login (Asio's protocol has no AUTH): with --users, line listeners only`)
  for (const [name, min] of Object.entries(OPTION_MINIMUM) as [NumericOption, number][]) {
    const value = options[name]
    if (!Number.isFinite(value) || value < min) throw new RangeError(`server option ${name} must be a number >= ${min}, not ${value}`)
  }
}

/** Parses `codec:port` or `codec:host:port`, e.g. `line:7000`, `asio:127.0.0.1:7001`; `tls+line:7443` for TLS. */
export function parseListener(text: string): ListenerConfig {
  const tls = text.startsWith('tls+')
  const parts = (tls ? text.slice('tls+'.length) : text).split(':')
  const [codec, host, portText] = parts.length === 2 ? [parts[0], DEFAULT_HOST, parts[1]] : parts
  if (parts.length < 2 || parts.length > 3 || !isCodecName(codec)) {
    throw new Error(`bad listener "${text}": expected codec:port or codec:host:port, codec one of ${CODEC_NAMES.join(', ')}`)
  }
  const port = Number(portText)
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    throw new Error(`bad listener "${text}": port must be 0-65535`)
  }
  const listener = { codec, host: host || DEFAULT_HOST, port }
  return tls ? { ...listener, tls: true } : listener
}

/** A listener's name, as sessions, metrics and the log give it: `line:7000`, `tls+asio:7443`. */
export const listenerName = (spec: ListenerConfig, port: number): string => `${spec.tls ? 'tls+' : ''}${spec.codec}:${port}`
