import { DEFAULT_LIMITS, type CallArgs, type CallName, type ClientConfig, type ClusterConfig, type ListenerConfig, type ServerConfig, type ServerLimits } from '../../shared/contract'
import type { LoadConfig } from '../../shared/load'
import { MAX_PAGE_ROWS, type SessionQuery, type SessionSort } from '../../shared/telemetry'
import { isNodeId, isRedisUrl } from '../core/cluster/config'
import { CODEC_NAMES, isCodecName } from '../core/codec'
import { HOST_PATTERN, LoadConfigError, resolveLoadConfig } from '../core/load/config'
import { OPTION_MINIMUM } from '../core/server/options'
import { NAME_PATTERN } from '../core/protocol/commands'

/** A renderer sent arguments that do not fit the contract; it is told so, and nothing else happens. */
export class ValidationError extends Error {}

type Check<T> = (value: unknown, path: string) => T

function fail(path: string, expected: string, value: unknown): never {
  const shown = JSON.stringify(value)?.slice(0, 60) ?? String(value)
  throw new ValidationError(`${path}: expected ${expected}, got ${shown}`)
}

const integer =
  (min: number, max: number): Check<number> =>
  (value, path) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? (value as number)
      : fail(path, `a whole number from ${min} to ${max}`, value)

const host: Check<string> = (value, path) =>
  typeof value === 'string' && HOST_PATTERN.test(value) ? value : fail(path, 'a host name or address', value)

const codec: Check<ClientConfig['codec']> = (value, path) =>
  typeof value === 'string' && isCodecName(value) ? value : fail(path, `one of ${CODEC_NAMES.join(', ')}`, value)

function object(value: unknown, path: string, keys: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object', value)
  const extra = Object.keys(value).filter((key) => !keys.includes(key))
  if (extra.length > 0) fail(path, `only ${keys.join(', ')}`, extra)
  return value as Record<string, unknown>
}

const listener: Check<ListenerConfig> = (value, path) => {
  const o = object(value, path, ['codec', 'port', 'host', 'tls'])
  const checked: ListenerConfig = { codec: codec(o.codec, `${path}.codec`), port: integer(0, 65535)(o.port, `${path}.port`), host: host(o.host, `${path}.host`) }
  if (o.tls === undefined || o.tls === false) return checked
  return o.tls === true ? { ...checked, tls: true } : fail(`${path}.tls`, 'true or false', o.tls)
}

const redisUrl: Check<string> = (value, path) =>
  typeof value === 'string' && isRedisUrl(value)
    ? value
    : // Not said back with what is before an @: it may be a password, and refusals are logged.
      fail(path, 'redis://host:port[/db], or rediss:// for TLS (credentials only in the --cluster flag)', typeof value === 'string' ? value.replace(/\/\/[^/]*@/, '//…@') : value)

const nodeId: Check<string> = (value, path) =>
  typeof value === 'string' && isNodeId(value) ? value : fail(path, '1 to 32 of A-Z a-z 0-9 _ -', value)

const clusterConfig: Check<ClusterConfig | null> = (value, path) => {
  if (value === null) return null
  if (typeof value !== 'object') fail(path, 'null or an object with redis and nodeId', value)
  const o = object(value, path, ['redis', 'nodeId'])
  return { redis: redisUrl(o.redis, `${path}.redis`), nodeId: nodeId(o.nodeId, `${path}.nodeId`) }
}

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof ServerLimits)[]

/** Each limit from the core's own minimum up: the core would refuse the same start, less clearly. */
const limits: Check<ServerLimits> = (value, path) => {
  const o = object(value, path, LIMIT_NAMES)
  const entries = LIMIT_NAMES.map((name) => [name, integer(OPTION_MINIMUM[name], Number.MAX_SAFE_INTEGER)(o[name], `${path}.${name}`)])
  return Object.fromEntries(entries) as ServerLimits
}

/** A start's config; also what a settings file must hold (settings.ts), so both are judged alike. */
export const checkServerConfig: Check<ServerConfig> = (value, path) => {
  const o = object(value, path, ['listeners', 'workers', 'workUs', 'cluster', 'limits'])
  if (!Array.isArray(o.listeners) || o.listeners.length < 1 || o.listeners.length > 8) {
    fail(`${path}.listeners`, '1 to 8 listeners', o.listeners)
  }
  return {
    listeners: o.listeners.map((item, i) => listener(item, `${path}.listeners[${i}]`)),
    workers: integer(0, 64)(o.workers, `${path}.workers`),
    // 100 ms of work per message is already a server that can barely move; more only makes stop() crawl.
    workUs: integer(0, 100_000)(o.workUs, `${path}.workUs`),
    cluster: clusterConfig(o.cluster, `${path}.cluster`),
    limits: limits(o.limits, `${path}.limits`)
  }
}

/** A run's config, with the load engine's defaults filled in and its rules applied (the CLI's too). */
export const checkLoadConfig: Check<LoadConfig> = (value, path) => {
  try {
    return resolveLoadConfig(value)
  } catch (error) {
    throw error instanceof LoadConfigError ? new ValidationError(`${path}: ${error.message}`) : error
  }
}

const clientAuth: Check<NonNullable<ClientConfig['auth']>> = (value, path) => {
  const o = object(value, path, ['user', 'password'])
  const user = typeof o.user === 'string' && NAME_PATTERN.test(o.user) ? o.user : fail(`${path}.user`, 'a user name (1-32 characters A-Z a-z 0-9 _ -)', o.user)
  const password = typeof o.password === 'string' && /^[^\r\n]{1,1024}$/.test(o.password) ? o.password : fail(`${path}.password`, 'a password of one line', '(not shown)')
  return { user, password }
}

const clientConfig: Check<ClientConfig> = (value, path) => {
  const o = object(value, path, ['host', 'port', 'codec', 'tls', 'auth'])
  const config: ClientConfig = { host: host(o.host, `${path}.host`), port: integer(1, 65535)(o.port, `${path}.port`), codec: codec(o.codec, `${path}.codec`) }
  if (o.tls !== undefined) config.tls = typeof o.tls === 'boolean' ? o.tls : fail(`${path}.tls`, 'true or false', o.tls)
  if (o.auth !== undefined && o.auth !== null) {
    if (config.codec !== 'line') fail(`${path}.auth`, 'absent: the asio protocol has no login', '(given)')
    config.auth = clientAuth(o.auth, `${path}.auth`)
  }
  return config
}

const text: Check<string> = (value, path) =>
  typeof value === 'string' && value.length <= 65536 ? value : fail(path, 'a string of at most 65536 characters', value)

const SORTS: SessionSort[] = ['pending', 'rate', 'idle', 'age']

/** A viewer's page of sessions: at most MAX_PAGE_ROWS rows, and a filter short enough to match cheaply 10,000 times. */
const sessionQuery: Check<SessionQuery> = (value, path) => {
  const o = object(value, path, ['sort', 'filter', 'offset', 'limit'])
  const sort = SORTS.includes(o.sort as SessionSort) ? (o.sort as SessionSort) : fail(`${path}.sort`, `one of ${SORTS.join(', ')}`, o.sort)
  const filter = typeof o.filter === 'string' && o.filter.length <= 200 ? o.filter : fail(`${path}.filter`, 'a string of at most 200 characters', o.filter)
  return { sort, filter, offset: integer(0, Number.MAX_SAFE_INTEGER)(o.offset, `${path}.offset`), limit: integer(1, MAX_PAGE_ROWS)(o.limit, `${path}.limit`) }
}

const none = () => [] as []

/** One check per call, so every call's arguments are checked before the host sees them. */
const validators: { [C in CallName]: (args: unknown[]) => CallArgs<C> } = {
  getServerState: none,
  startServer: (args) => [checkServerConfig(args[0], 'config')],
  stopServer: none,
  kickSession: (args) => {
    const sessionId = integer(1, Number.MAX_SAFE_INTEGER)(args[0], 'sessionId')
    // JSON has no undefined: over the browser's WebSocket an absent trailing `node` can arrive as null.
    return args[1] === undefined || args[1] === null ? [sessionId] : [sessionId, nodeId(args[1], 'node')]
  },
  connectClient: (args) => [clientConfig(args[0], 'config')],
  sendClient: (args) => [text(args[0], 'text')],
  closeClient: none,
  openClientWindow: none,
  startLoad: (args) => [checkLoadConfig(args[0], 'config')],
  stopLoad: none,
  getLoadRuns: none,
  getLastLoadConfig: none,
  getMetricsHistory: none,
  setSessionQuery: (args) => [sessionQuery(args[0], 'query')]
}

export function validateCall<C extends CallName>(call: C, args: unknown): CallArgs<C> {
  if (!Object.hasOwn(validators, call)) throw new ValidationError(`unknown call ${JSON.stringify(call)}`)
  if (!Array.isArray(args)) throw new ValidationError(`${call}: arguments must be an array`)
  return validators[call](args)
}
