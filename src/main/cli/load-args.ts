import { LOAD_DEFAULTS, parseTarget, type LoadAuth, type LoadConfig, type LoadTarget, type LoadTls } from '../../shared/load'
import { LoadConfigError, resolveLoadConfig } from '../core/load/config'
import type { RateSearch } from '../core/load/rate-search'
import { parseFlags, positiveFlag, UsageError, wholeFlag } from './flags'

export const LOAD_USAGE = `usage: switchboard load --port N [options]
       switchboard load --targets H:P,H:P,... [options]
  --host H              target (default 127.0.0.1; another machine needs --allow-remote)
  --port N              target port
  --targets H:P,...     several targets, e.g. the nodes of a cluster: client i connects to the
                        (i mod n)-th, so rooms span the nodes (line protocol only)
  --codec line|asio     (default line)
  --clients N           connections (default ${LOAD_DEFAULTS.clients})
  --connect-rate N      new connections per second while ramping up (default: as fast as possible)
  --window N            closed loop: most un-echoed messages per client (default ${LOAD_DEFAULTS.window})
  --rate N              open loop: messages per second per client (sets --mode open)
  --mode closed|open    (default closed)
  --messages N          messages per client, 0 = until --duration (default ${LOAD_DEFAULTS.messages})
  --duration S          stop sending after S seconds
  --size BYTES          message body size (default ${LOAD_DEFAULTS.size})
  --room-size N         line protocol: rooms of N clients (default: all in the lobby)
  --agents N            load-generating processes (default ${LOAD_DEFAULTS.agents})
  --timeout S           longest wait for connections, rooms, and the last deliveries (default ${LOAD_DEFAULTS.timeoutMs / 1000})
  --allow-remote        allow a target that is not this machine
  --tls                 over TLS, to tls+ listeners: --ca FILE trusts that CA (else the system's),
                        --tls-insecure takes any certificate; the summary adds handshake times
  --user NAME           line protocol, a server with users: every client logs in as NAME
  --password TEXT       its password (default: the SWITCHBOARD_PASSWORD environment variable, which stays
                        out of the process list)
  --resume              line protocol: clients ask for message ids and, when a connection is lost,
                        reconnect and RESUME where they were; the summary says what came back
  --storm-after S       a reconnect storm S seconds into sending: every client's connection is cut at
                        once (needs --resume; the traffic lab restarts its own server instead)
  --json FILE           write the full report (or the search's trials) as JSON
  --search-p99 MS       rate search: find the highest --rate whose p99 stays under MS
  --search-max N        highest rate the search tries (default 100000)
  --trial S             length of each search trial (default 3)`

export interface LoadArgs {
  config: LoadConfig
  json: string | null
  search: RateSearch | null
}

const DEFAULT_HOST = '127.0.0.1'

/** --tls, with --ca or --tls-insecure (each only with --tls). */
function loadTls(values: { tls?: boolean; ca?: string; 'tls-insecure'?: boolean }): LoadTls | null {
  if (!values.tls) {
    if (values.ca !== undefined || values['tls-insecure']) throw new UsageError('--ca and --tls-insecure go with --tls')
    return null
  }
  if (values.ca !== undefined && values['tls-insecure']) throw new UsageError('--ca and --tls-insecure: one or the other')
  return { ca: values.ca ?? null, insecure: values['tls-insecure'] ?? false }
}

/** --user, with --password or SWITCHBOARD_PASSWORD. */
function loadAuth(values: { user?: string; password?: string }): LoadAuth | null {
  if (values.user === undefined) {
    if (values.password !== undefined) throw new UsageError('--password goes with --user')
    return null
  }
  const password = values.password ?? process.env.SWITCHBOARD_PASSWORD
  if (!password) throw new UsageError('--user needs a password: --password, or SWITCHBOARD_PASSWORD in the environment')
  return { user: values.user, password }
}

/** --targets, or --host and --port as the one target. */
function targetsOf(values: { host?: string; port?: string; targets?: string }): LoadTarget[] {
  if (values.targets !== undefined) {
    if (values.host !== undefined || values.port !== undefined) throw new UsageError('give --targets, or --host and --port, not both')
    return values.targets.split(',').map((text) => {
      const target = parseTarget(text)
      if (!target) throw new UsageError(`--targets takes host:port pairs separated by commas ([::1]:7000 for IPv6), not "${text}"`)
      return target
    })
  }
  if (values.port === undefined) throw new UsageError('--port or --targets is required')
  return [{ host: values.host ?? DEFAULT_HOST, port: wholeFlag('port', values.port, 1, 65535)! }]
}

const seconds = (name: string, text: string | undefined) => {
  const value = positiveFlag(name, text, 'seconds')
  return value === undefined ? undefined : Math.round(value * 1000)
}

export function parseLoadArgs(argv: string[]): LoadArgs {
  const values = parseFlags(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    targets: { type: 'string' },
    codec: { type: 'string' },
    clients: { type: 'string' },
    'connect-rate': { type: 'string' },
    window: { type: 'string' },
    rate: { type: 'string' },
    mode: { type: 'string' },
    messages: { type: 'string' },
    duration: { type: 'string' },
    size: { type: 'string' },
    'room-size': { type: 'string' },
    agents: { type: 'string' },
    timeout: { type: 'string' },
    'allow-remote': { type: 'boolean', default: false },
    resume: { type: 'boolean', default: false },
    user: { type: 'string' },
    password: { type: 'string' },
    tls: { type: 'boolean', default: false },
    ca: { type: 'string' },
    'tls-insecure': { type: 'boolean', default: false },
    'storm-after': { type: 'string' },
    json: { type: 'string' },
    'search-p99': { type: 'string' },
    'search-max': { type: 'string' },
    trial: { type: 'string' }
  })
  const targets = targetsOf(values)
  const durationMs = seconds('duration', values.duration)
  const input: Record<string, unknown> = {
    targets,
    codec: values.codec,
    clients: wholeFlag('clients', values.clients),
    connectRate: wholeFlag('connect-rate', values['connect-rate']),
    window: wholeFlag('window', values.window),
    rate: wholeFlag('rate', values.rate),
    mode: values.mode ?? (values.rate !== undefined ? 'open' : undefined),
    // A duration alone means "for that long", not "100 messages or that long, whichever is first".
    messages: wholeFlag('messages', values.messages) ?? (durationMs !== undefined ? 0 : undefined),
    durationMs,
    size: wholeFlag('size', values.size),
    roomSize: wholeFlag('room-size', values['room-size']),
    agents: wholeFlag('agents', values.agents),
    timeoutMs: seconds('timeout', values.timeout),
    allowRemote: values['allow-remote'],
    resume: values.resume,
    tls: loadTls(values),
    auth: loadAuth(values),
    stormAfterMs: seconds('storm-after', values['storm-after'])
  }
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key]
  const targetP99Ms = positiveFlag('search-p99', values['search-p99'], 'milliseconds')
  const search: RateSearch | null =
    targetP99Ms === undefined
      ? null
      : {
          targetP99Ms,
          minRate: wholeFlag('rate', values.rate) ?? 1,
          maxRate: wholeFlag('search-max', values['search-max']) ?? 100_000,
          trialMs: seconds('trial', values.trial) ?? 3000,
          refineSteps: 4
        }
  try {
    // A search runs open-loop trials of its own length; check the largest one it may run.
    const config = resolveLoadConfig(search ? { ...input, mode: 'open', messages: 0, rate: search.maxRate, durationMs: search.trialMs } : input)
    return { config, json: values.json ?? null, search }
  } catch (error) {
    throw error instanceof LoadConfigError ? new UsageError(error.message) : error
  }
}
