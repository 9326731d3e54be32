import { LOAD_DEFAULTS, type LoadAuth, type LoadConfig, type LoadTarget, type LoadTls } from '../../../shared/load'
import { ASIO_MAX_BODY } from '../codec/asio'
import { CODEC_NAMES, isCodecName } from '../codec'
import { NAME_PATTERN } from '../protocol/commands'
import { isLoopback } from '../net/address'
import { MAX_LINE } from './scanner'
import { tagLength } from './wire'

/** Longest duration or timeout: a day, and well inside what setTimeout can count (2^31 - 1 ms). */
const MAX_MS = 86_400_000

/** A host name or an IPv4/IPv6 address, as node:net takes it. */
export const HOST_PATTERN = /^[A-Za-z0-9.:-]{1,253}$/

/** Members a resuming client keeps a sequence number for: its room's, 4 bytes each. */
const MAX_RESUME_ROOM = 5000

/** More nodes than a cluster on one machine would have; a bound, so a config stays small. */
const MAX_TARGETS = 64

/** The load options a run cannot be started with; the message says which and why. */
export class LoadConfigError extends Error {}

/** Sequence numbers a run may need: its message count, or the most `durationMs` could take. */
export function maxMessages(config: LoadConfig): number {
  if (config.messages > 0) return config.messages
  if (config.mode === 'open') return Math.ceil((config.rate * config.durationMs) / 1000) + 1
  return 1e9 // closed loop for a duration: no bound known in advance
}

/** The room a client belongs to, by its global index: everyone in one room unless roomSize is set. */
export const roomOf = (config: LoadConfig, index: number): number => (config.roomSize > 0 ? Math.floor(index / config.roomSize) : 0)

export const roomCount = (config: LoadConfig): number => (config.roomSize > 0 ? Math.ceil(config.clients / config.roomSize) : 1)

/**
 * The target a client connects to, by its global index: round robin, so consecutive clients, and so the
 * members of every room (of at least as many members as there are targets), are on different nodes.
 */
export const targetIndexOf = (config: LoadConfig, index: number): number => index % config.targets.length

/** How many clients round robin sends to target `t`. */
export function clientsOfTarget(config: LoadConfig, t: number): number {
  const n = config.targets.length
  return Math.floor(config.clients / n) + (t < config.clients % n ? 1 : 0)
}

function whole(config: Record<string, unknown>, name: keyof LoadConfig, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = config[name]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
    throw new LoadConfigError(`${name} must be a whole number ${range}, not ${JSON.stringify(value)}`)
  }
  return value
}

function targetsOf(value: unknown): LoadTarget[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TARGETS) {
    throw new LoadConfigError(`targets must be a list of 1 to ${MAX_TARGETS} {host, port}`)
  }
  return value.map((target: unknown, i) => {
    const { host, port } = (typeof target === 'object' && target !== null ? target : {}) as Record<string, unknown>
    if (typeof host !== 'string' || !HOST_PATTERN.test(host)) throw new LoadConfigError(`targets[${i}].host must be a host name or address`)
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new LoadConfigError(`targets[${i}].port must be a whole number from 1 to 65535, not ${JSON.stringify(port)}`)
    }
    return { host, port }
  })
}

function tlsOf(value: unknown): LoadTls | null {
  if (value === null) return null
  const { ca, insecure } = (typeof value === 'object' ? value : {}) as Record<string, unknown>
  if ((ca !== null && typeof ca !== 'string') || typeof insecure !== 'boolean') throw new LoadConfigError('tls must be null or {ca: file or null, insecure: true or false}')
  return { ca, insecure }
}

function authOf(value: unknown): LoadAuth | null {
  if (value === null) return null
  const { user, password } = (typeof value === 'object' ? value : {}) as Record<string, unknown>
  if (typeof user !== 'string' || !NAME_PATTERN.test(user) || typeof password !== 'string' || /[\r\n]/.test(password)) {
    throw new LoadConfigError('auth must be null or {user: a user name, password: one line}')
  }
  return { user, password }
}

/** Fills in defaults and refuses what the engine cannot run; used by the CLI and by the host alike. */
export function resolveLoadConfig(input: unknown): LoadConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new LoadConfigError('load config must be an object')
  const unknown = Object.keys(input).filter((key) => !Object.hasOwn(LOAD_DEFAULTS, key) && key !== 'targets')
  if (unknown.length > 0) throw new LoadConfigError(`unknown load option ${unknown.join(', ')}`)
  const merged: Record<string, unknown> = { ...LOAD_DEFAULTS, ...input }
  const targets = targetsOf(merged.targets)
  if (typeof merged.codec !== 'string' || !isCodecName(merged.codec)) {
    throw new LoadConfigError(`codec must be one of ${CODEC_NAMES.join(', ')}, not ${JSON.stringify(merged.codec)}`)
  }
  if (merged.mode !== 'closed' && merged.mode !== 'open') throw new LoadConfigError('mode must be closed or open')
  if (typeof merged.allowRemote !== 'boolean') throw new LoadConfigError('allowRemote must be true or false')
  if (typeof merged.resume !== 'boolean') throw new LoadConfigError('resume must be true or false')
  const tls = tlsOf(merged.tls)
  const config: LoadConfig = {
    targets,
    codec: merged.codec,
    clients: whole(merged, 'clients', 1, 100_000),
    connectRate: whole(merged, 'connectRate', 0),
    mode: merged.mode,
    window: whole(merged, 'window', 1, 100_000),
    rate: whole(merged, 'rate', 1, 1_000_000),
    messages: whole(merged, 'messages', 0),
    durationMs: whole(merged, 'durationMs', 0, MAX_MS),
    size: whole(merged, 'size', 1, 1 << 20),
    roomSize: whole(merged, 'roomSize', 0),
    agents: whole(merged, 'agents', 1, 64),
    timeoutMs: whole(merged, 'timeoutMs', 1, MAX_MS),
    allowRemote: merged.allowRemote,
    resume: merged.resume,
    stormAfterMs: whole(merged, 'stormAfterMs', 0, MAX_MS),
    tls,
    auth: authOf(merged.auth)
  }
  // Loopback only, unless allowed: a load generator must not be pointed at someone else's machine by accident.
  const remote = config.allowRemote ? undefined : config.targets.find((target) => !isLoopback(target.host))
  if (remote) throw new LoadConfigError(`host ${remote.host} is not on this machine; allow a remote target explicitly`)
  if (config.messages === 0 && config.durationMs === 0) throw new LoadConfigError('give a message count, a duration, or both')
  if (config.codec === 'asio' && config.auth !== null) throw new LoadConfigError('auth is for the line protocol: asio has no login')
  if (config.codec === 'asio' && config.roomSize > 0) throw new LoadConfigError('roomSize is for the line protocol: an asio listener is one room')
  // The asio barrier is one body sent to one listener; nodes of a cluster share line rooms only.
  if (config.codec === 'asio' && config.targets.length > 1) throw new LoadConfigError('several targets are for the line protocol: an asio listener shares its room with no other')
  if (config.agents > config.clients) throw new LoadConfigError('agents must not outnumber clients')
  if (config.resume && config.codec !== 'line') throw new LoadConfigError('resume is for the line protocol: asio has no message ids')
  if (config.stormAfterMs > 0 && !config.resume) throw new LoadConfigError('a reconnect storm (stormAfterMs) needs resume: clients that do not resume would just be lost')
  // A resuming client keeps the last sequence number it saw of every member of its room (duplicates show there).
  if (config.resume && Math.min(config.roomSize || config.clients, config.clients) > MAX_RESUME_ROOM) {
    throw new LoadConfigError(`resume needs rooms of at most ${MAX_RESUME_ROOM} members (set roomSize)`)
  }
  const minimum = tagLength(config.clients, maxMessages(config))
  if (config.size < minimum) throw new LoadConfigError(`size must be >= ${minimum} to carry the sender's tag`)
  if (config.codec === 'line' && config.size > MAX_LINE - 64) {
    throw new LoadConfigError(`size must be <= ${MAX_LINE - 64} for the line protocol (the generator reads lines of up to ${MAX_LINE} bytes)`)
  }
  if (config.codec === 'asio' && config.size > ASIO_MAX_BODY) {
    throw new LoadConfigError(`size must be <= ${ASIO_MAX_BODY} for asio (Asio's chat_message::max_body_length)`)
  }
  return config
}
