import { readFileSync } from 'node:fs'
import type { ServerConfig } from '../../shared/contract'
import { CLUSTER_TUNING, type ClusterTuning } from '../core/cluster/cluster-chat'
import { defaultNodeId, splitRedisUrl, type RedisAccess } from '../core/cluster/config'
import { DEFAULTS, parseListener, type ServerOptions, type TlsFiles } from '../core/server/options'
import { checkServerConfig, ValidationError } from '../host/validate'

import { parseTarget, type LoadTarget } from '../../shared/load'
import type { Reach } from '../host/reach'
import { parseFlags, UsageError, wholeFlag } from './flags'

export { UsageError }

export const SERVE_USAGE = `usage: switchboard serve [options]
  --listen codec:[host:]port  listener, repeatable (default line:7000); codec is line or asio, or
                              tls+line / tls+asio for TLS (with --tls-cert and --tls-key)
  --tls-cert FILE             the TLS listeners' certificate (PEM, its chain after it); read again on SIGHUP
  --tls-key FILE              its private key (PEM); read again on SIGHUP
  --tls-ca FILE               require client certificates signed by this CA (PEM)
  --tls-handshakes-per-turn N TLS handshakes started per event-loop turn, between the established sessions' reads;
                              0 = all at once (default ${DEFAULTS.tlsHandshakesPerTurn})
  --users FILE                line sessions must log in (AUTH <user> <password>) as a user of FILE, made with
                              \`switchboard user add\`; no asio listeners then; read again on SIGHUP
  --workers N                 logic worker threads, 0 = inline on the I/O thread (default ${DEFAULTS.workers})
  --work-us N                 simulated CPU work per message in the logic step (default 0)
  --max-line BYTES            longest line accepted (default ${DEFAULTS.maxLineBytes})
  --max-sessions N            sessions at once (default ${DEFAULTS.maxSessions})
  --max-output BYTES          output queued for a session before it is dropped as slow at once (default ${DEFAULTS.maxOutputBytes})
  --soft-output BYTES         output a session may hold above this for --soft-output-time only, 0 = no soft limit
                              (default ${DEFAULTS.softOutputBytes})
  --soft-output-time S        how long a session may stay above --soft-output, in seconds (default ${DEFAULTS.softOutputMs / 1000})
  --max-total-output BYTES    output queued for all sessions together; past it the sessions holding the most are
                              dropped (default ${DEFAULTS.maxTotalOutputBytes})
  --history N                 messages kept per room for HISTORY and RESUME, 0 = none (default ${DEFAULTS.historyMessages})
  --history-bytes BYTES       bytes of messages kept per room (default ${DEFAULTS.historyBytes})
  --max-total-history BYTES   history of all rooms together; past it the rooms written least lately are forgotten
                              (default ${DEFAULTS.maxTotalHistoryBytes})
  --presence-limit N          rooms above N members announce JOINED/LEFT/NICK only to the session concerned (default ${DEFAULTS.presenceLimit})
  --idle-timeout S            close a session that sends no complete message for S seconds, 0 = never (default ${DEFAULTS.idleTimeoutMs / 1000})
  --partial-timeout S         close a session whose message stays incomplete for S seconds, 0 = never (default ${DEFAULTS.partialTimeoutMs / 1000})
  --max-rate N                messages per second per session, 0 = no limit (default ${DEFAULTS.maxRate})
  --rate-burst N              messages a session may send at once above its rate (default ${DEFAULTS.rateBurst})
  --batch-timeout MS          redo inline a batch a worker has not finished after MS (+ twice a full batch's work; default ${DEFAULTS.batchTimeoutMs})
  --cluster redis://H:P       join a cluster: line rooms and nicks shared with other nodes through Redis (docs/CLUSTER.md);
                              rediss:// for TLS, redis://user:password@H:P (or :password@) for a Redis with a password,
                              or the password in SWITCHBOARD_REDIS_PASSWORD (kept out of the process list)
  --redis-ca FILE             the CA (PEM) a rediss:// Redis's certificate is checked against (default: the system's,
                              and NODE_EXTRA_CA_CERTS)
  --node-id NAME              this node's name in the cluster (default <hostname>-<first port>)
  --room-ttl S                how long an emptied room's stream is kept in Redis, in seconds (default ${CLUSTER_TUNING.emptyRoomTtlS})
  --lease-ms MS               a node cut off from Redis this long stops serving and rejoins when Redis answers; the
                              others reap it after 1.5 times as long (default ${CLUSTER_TUNING.leaseMs}; docs/CLUSTER.md)
  --redis-backlog-mb N        memory a node may hold waiting on Redis (slow or away); past it, lines that need Redis
                              get ERR unavailable (default ${CLUSTER_TUNING.backlogBytes / 2 ** 20})
  --status-ms MS              status line period, 0 = none (default 1000)
  --web PORT                  also serve the control room to a browser on 127.0.0.1:PORT (0 = any free port)
  --allow-remote              allow listeners and a cluster's Redis beyond loopback, from the flags or the control room
                              (the control room may join a cluster only through the --cluster given here)
  --allow-target H:P          a server the control room's client windows and load runs may connect to besides this
                              one's own listeners (repeatable, or separated by commas)
  --token-file FILE           with --web: the access token of the control room and of GET /metrics, read from FILE
                              (16+ characters A-Z a-z 0-9 _ -), so a Prometheus scrape config can hold it too
                              (default: a new random token at every start, printed in the control room's URL)
  --settings FILE             with --web: keep the control room's server config and last traffic-lab run in FILE
                              (JSON, made if missing); the server starts from the config kept there unless
                              a --listen, --workers, --work-us, limit (--max-* .. --rate-burst) or cluster flag is given
  --verbose                   print every connect, disconnect and error`

/** --tls-cert and --tls-key (both or neither), and --tls-ca with them. */
function tlsFiles(values: { 'tls-cert'?: string; 'tls-key'?: string; 'tls-ca'?: string }): TlsFiles | undefined {
  const { 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca } = values
  if (cert === undefined && key === undefined && ca === undefined) return undefined
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together')
  return ca === undefined ? { cert, key } : { cert, key, ca }
}

/** --cluster's URL split into the address shown and the credentials kept back, with --redis-ca read. */
function clusterAccess(url: string, caFile: string | undefined): RedisAccess {
  let access: RedisAccess
  try {
    access = splitRedisUrl(url)
  } catch (error) {
    throw new UsageError(`--cluster: ${(error as Error).message}`)
  }
  if (caFile !== undefined && !access.address.startsWith('rediss:')) throw new UsageError('--redis-ca goes with --cluster rediss://...')
  // Out of the process list: a password in the URL is visible to every local user in `ps`.
  const password = access.password ?? process.env.SWITCHBOARD_REDIS_PASSWORD
  return { ...access, ...(password ? { password } : {}), ...(caFile === undefined ? {} : { ca: readFileSync(caFile) }) }
}

/** A timeout given in whole seconds (0 = never), in milliseconds. */
function secondsFlag(name: string, text: string | undefined): number | undefined {
  const seconds = wholeFlag(name, text)
  return seconds === undefined ? undefined : seconds * 1000
}

/** The flags that describe the server's config: listeners, workers, work, limits and cluster. */
const CONFIG_FLAGS = [
  'listen',
  'workers',
  'work-us',
  'max-line',
  'max-sessions',
  'max-output',
  'soft-output',
  'soft-output-time',
  'max-total-output',
  'history',
  'history-bytes',
  'max-total-history',
  'presence-limit',
  'idle-timeout',
  'partial-timeout',
  'max-rate',
  'rate-burst',
  'cluster',
  'node-id'
] as const

function allowedTargets(texts: string[]): LoadTarget[] {
  return texts.flatMap((text) =>
    text.split(',').map((item) => {
      const target = parseTarget(item)
      if (!target || target.port < 1 || target.port > 65535) throw new UsageError(`--allow-target takes host:port ([::1]:7000 for IPv6), not "${item}"`)
      return target
    })
  )
}

export interface ServeArgs {
  /** The server as the flags describe it, defaults for what they leave out. */
  config: ServerConfig
  /** Whether any flag of the config was given: then the flags win over a config kept in --settings. */
  configFlagged: boolean
  /** What the contract does not carry. */
  serverDefaults: Pick<ServerOptions, 'batchTimeoutMs' | 'tls' | 'usersFile' | 'tlsHandshakesPerTurn'>
  statusMs: number
  /** Port of the browser control room; null for none. */
  webPort: number | null
  /** Where the control room's settings are kept; null: nowhere, nothing is kept. */
  settingsFile: string | null
  /** Where the web host's access token is read from; null: a random one. */
  tokenFile: string | null
  /** What the control room may reach beyond this server: the operator's flags, never the page's say. */
  reach: Reach
  /** How a cluster node uses Redis. */
  clusterTuning: ClusterTuning
  /** The --cluster URL's credentials, and --redis-ca: for that Redis only, never shown or kept. */
  redisAccess: RedisAccess | null
  verbose: boolean
}

export function parseServeArgs(argv: string[]): ServeArgs {
  const values = parseFlags(argv, {
    listen: { type: 'string', multiple: true },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
    users: { type: 'string' },
    'tls-handshakes-per-turn': { type: 'string' },
    workers: { type: 'string' },
    'work-us': { type: 'string' },
    'max-line': { type: 'string' },
    'max-sessions': { type: 'string' },
    'max-output': { type: 'string' },
    'soft-output': { type: 'string' },
    'soft-output-time': { type: 'string' },
    'max-total-output': { type: 'string' },
    history: { type: 'string' },
    'history-bytes': { type: 'string' },
    'max-total-history': { type: 'string' },
    'presence-limit': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'partial-timeout': { type: 'string' },
    'max-rate': { type: 'string' },
    'rate-burst': { type: 'string' },
    'batch-timeout': { type: 'string' },
    cluster: { type: 'string' },
    'redis-ca': { type: 'string' },
    'node-id': { type: 'string' },
    'room-ttl': { type: 'string' },
    'lease-ms': { type: 'string' },
    'redis-backlog-mb': { type: 'string' },
    'status-ms': { type: 'string' },
    web: { type: 'string' },
    'token-file': { type: 'string' },
    settings: { type: 'string' },
    'allow-remote': { type: 'boolean', default: false },
    'allow-target': { type: 'string', multiple: true },
    verbose: { type: 'boolean', default: false }
  })
  let listeners
  try {
    listeners = (values.listen ?? ['line:7000']).map(parseListener)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values['node-id'] !== undefined && values.cluster === undefined) throw new UsageError('--node-id names a node of a cluster: give --cluster too')
  for (const flag of ['room-ttl', 'lease-ms', 'redis-backlog-mb'] as const) {
    if (values[flag] !== undefined && values.cluster === undefined) throw new UsageError(`--${flag} tunes a node of a cluster: give --cluster too`)
  }
  const redisAccess = values.cluster === undefined ? null : clusterAccess(values.cluster, values['redis-ca'])
  if (values['redis-ca'] !== undefined && redisAccess === null) throw new UsageError('--redis-ca goes with --cluster rediss://...')
  const cluster = redisAccess === null ? undefined : { redis: redisAccess.address, nodeId: values['node-id'] ?? defaultNodeId(listeners[0].port) }
  // Only the browser control room changes settings: kept without it, they would only ever repeat the flags.
  if (values.settings !== undefined && values.web === undefined) throw new UsageError('--settings keeps what the browser control room sets: give --web too')
  if (values.settings === '') throw new UsageError('--settings takes a file name')
  if (values['token-file'] !== undefined && values.web === undefined) throw new UsageError('--token-file is the access token of the browser control room and /metrics: give --web too')
  // The flags' config passes the same check as one from the control room (ranges, e.g. --workers <= 64):
  // refused here as a usage error, not later as a crash.
  let config: ServerConfig
  try {
    config = checkServerConfig(
      {
        listeners,
        workers: wholeFlag('workers', values.workers) ?? DEFAULTS.workers,
        workUs: wholeFlag('work-us', values['work-us']) ?? DEFAULTS.workUs,
        cluster: cluster ?? null,
        limits: {
          maxLineBytes: wholeFlag('max-line', values['max-line']) ?? DEFAULTS.maxLineBytes,
          maxSessions: wholeFlag('max-sessions', values['max-sessions']) ?? DEFAULTS.maxSessions,
          maxOutputBytes: wholeFlag('max-output', values['max-output']) ?? DEFAULTS.maxOutputBytes,
          softOutputBytes: wholeFlag('soft-output', values['soft-output']) ?? DEFAULTS.softOutputBytes,
          softOutputMs: secondsFlag('soft-output-time', values['soft-output-time']) ?? DEFAULTS.softOutputMs,
          maxTotalOutputBytes: wholeFlag('max-total-output', values['max-total-output'], 1) ?? DEFAULTS.maxTotalOutputBytes,
          historyMessages: wholeFlag('history', values.history) ?? DEFAULTS.historyMessages,
          historyBytes: wholeFlag('history-bytes', values['history-bytes'], 1) ?? DEFAULTS.historyBytes,
          maxTotalHistoryBytes: wholeFlag('max-total-history', values['max-total-history'], 1) ?? DEFAULTS.maxTotalHistoryBytes,
          presenceLimit: wholeFlag('presence-limit', values['presence-limit']) ?? DEFAULTS.presenceLimit,
          idleTimeoutMs: secondsFlag('idle-timeout', values['idle-timeout']) ?? DEFAULTS.idleTimeoutMs,
          partialTimeoutMs: secondsFlag('partial-timeout', values['partial-timeout']) ?? DEFAULTS.partialTimeoutMs,
          maxRate: wholeFlag('max-rate', values['max-rate']) ?? DEFAULTS.maxRate,
          rateBurst: wholeFlag('rate-burst', values['rate-burst']) ?? DEFAULTS.rateBurst
        }
      },
      'flags'
    )
  } catch (error) {
    throw error instanceof ValidationError ? new UsageError(error.message) : error
  }
  return {
    config,
    configFlagged: CONFIG_FLAGS.some((flag) => values[flag] !== undefined),
    serverDefaults: {
      batchTimeoutMs: wholeFlag('batch-timeout', values['batch-timeout'], 1) ?? DEFAULTS.batchTimeoutMs,
      tls: tlsFiles(values),
      usersFile: values.users,
      tlsHandshakesPerTurn: wholeFlag('tls-handshakes-per-turn', values['tls-handshakes-per-turn']) ?? DEFAULTS.tlsHandshakesPerTurn
    },
    statusMs: wholeFlag('status-ms', values['status-ms']) ?? 1000,
    webPort: wholeFlag('web', values.web, 0, 65535) ?? null,
    settingsFile: values.settings ?? null,
    tokenFile: values['token-file'] ?? null,
    reach: { allowRemote: values['allow-remote'], targets: allowedTargets(values['allow-target'] ?? []), redis: redisAccess?.address ?? null },
    redisAccess,
    clusterTuning: {
      emptyRoomTtlS: wholeFlag('room-ttl', values['room-ttl'], 1) ?? CLUSTER_TUNING.emptyRoomTtlS,
      // Below a few hundred ms a busy event loop alone would fence a node.
      leaseMs: wholeFlag('lease-ms', values['lease-ms'], 500) ?? CLUSTER_TUNING.leaseMs,
      backlogBytes: (wholeFlag('redis-backlog-mb', values['redis-backlog-mb'], 1) ?? CLUSTER_TUNING.backlogBytes / 2 ** 20) * 2 ** 20
    },
    verbose: values.verbose
  }
}
