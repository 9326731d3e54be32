import { useState } from 'react'
import { DEFAULT_SERVER_CONFIG, type ClusterConfig, type ListenerConfig, type ServerConfig, type ServerLimits } from '../../../shared/contract'
import { useApi, useAppStore } from '../context'
import { secondsToMs, shown, toNumber } from '../fields'
import type { MetricsSnapshot } from '../../../shared/telemetry'
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent, plural } from '../format'
import { ClusterView } from './ClusterView'

function ListenerRow({ listener, onChange, onRemove }: { listener: ListenerConfig; onChange(l: ListenerConfig): void; onRemove?(): void }) {
  return (
    <div className="listener-row">
      <select aria-label="codec" value={listener.codec} onChange={(e) => onChange({ ...listener, codec: e.target.value as ListenerConfig['codec'] })}>
        <option value="line">line</option>
        <option value="asio">asio</option>
      </select>
      <input aria-label="host" value={listener.host} onChange={(e) => onChange({ ...listener, host: e.target.value })} />
      <input
        aria-label="port"
        type="number"
        min={0}
        max={65535}
        value={shown(listener.port)}
        onChange={(e) => onChange({ ...listener, port: toNumber(e.target.value) })}
      />
      <label className="check" title="TLS, with the certificate the process was given (serve --tls-cert/--tls-key, or SWITCHBOARD_TLS_CERT/_KEY for the app)">
        <input
          type="checkbox"
          checked={listener.tls === true}
          onChange={(e) => {
            const { tls: _, ...plain } = listener
            onChange(e.target.checked ? { ...plain, tls: true } : plain)
          }}
        />
        TLS
      </label>
      {onRemove && (
        <button type="button" className="ghost" onClick={onRemove} aria-label="remove listener">
          ×
        </button>
      )}
    </div>
  )
}

/** The limits as the form shows them: timeouts in seconds, like the CLI's flags. */
const LIMIT_FIELDS: { key: keyof ServerLimits; label: string; hint: string; seconds?: true }[] = [
  { key: 'maxSessions', label: 'max sessions', hint: 'Sessions at once; one more is refused with ERR server-full' },
  { key: 'maxLineBytes', label: 'max line bytes', hint: 'Longest line (line) or body (asio) accepted' },
  { key: 'maxOutputBytes', label: 'max output bytes', hint: 'Output queued for one session before it is dropped as too slow at once (hard limit)' },
  { key: 'softOutputBytes', label: 'soft output bytes', hint: 'Output a session may hold above this for the soft time only; 0 = no soft limit' },
  { key: 'softOutputMs', label: 'soft output time (s)', hint: 'How long a session may stay above the soft output limit', seconds: true },
  { key: 'maxTotalOutputBytes', label: 'max total output', hint: 'Output queued for all sessions together; past it the sessions holding the most are dropped' },
  { key: 'historyMessages', label: 'history per room', hint: 'Messages kept per room for HISTORY and RESUME; 0 = none' },
  { key: 'historyBytes', label: 'history bytes per room', hint: 'Bytes of messages kept per room' },
  { key: 'maxTotalHistoryBytes', label: 'max total history', hint: 'History of all rooms together; past it the rooms written least lately are forgotten' },
  { key: 'presenceLimit', label: 'presence limit', hint: 'Rooms above this many members announce JOINED/LEFT/NICK only to the session concerned' },
  { key: 'maxRate', label: 'msgs/s per session', hint: 'Average messages a session may send per second; 0 = no limit' },
  { key: 'rateBurst', label: 'rate burst', hint: 'Messages a session may send at once above its rate' },
  { key: 'idleTimeoutMs', label: 'idle timeout (s)', hint: 'Close a session that sends no complete message this long; 0 = never', seconds: true },
  { key: 'partialTimeoutMs', label: 'partial timeout (s)', hint: 'Close a session whose message stays incomplete this long; 0 = never', seconds: true }
]

/** What the form sends: an empty Redis URL means no cluster; the host checks the rest. */
function toStart(config: ServerConfig): ServerConfig {
  const redis = config.cluster?.redis.trim() ?? ''
  return { ...config, cluster: redis ? { redis, nodeId: config.cluster!.nodeId.trim() } : null }
}

/** Per listener: sessions, msgs/s and output pending; and the largest rooms, with how many there are. */
function Aggregates({ listeners, rooms, roomCount }: Pick<MetricsSnapshot, 'listeners' | 'rooms' | 'roomCount'>) {
  return (
    <div className="aggregates">
      <ul aria-label="listeners">
        {listeners.map((l) => (
          <li key={l.listener}>
            {l.listener}: {plural(l.sessions, 'session')}, {formatCount(l.msgsInPerSec)} msgs/s in, {formatBytes(l.queuedBytes)} pending
          </li>
        ))}
      </ul>
      {roomCount > 0 && (
        <p className="muted" aria-label="rooms">
          {plural(roomCount, 'room')}
          {': '}
          {rooms.map((r) => `${r.room} ${formatCount(r.members)}`).join(', ')}
          {roomCount > rooms.length ? ', …' : ''}
        </p>
      )}
    </div>
  )
}

export function ServerCard() {
  const api = useApi()
  const server = useAppStore((s) => s.server)
  const latest = useAppStore((s) => s.latest)
  const totals = latest?.totals ?? null
  const cluster = latest?.cluster ?? null
  // The server's own clock, as the totals below: never ahead of its start, whatever this window's clock says.
  const uptimeMs = latest?.uptimeMs ?? null
  const [draft, setDraft] = useState<ServerConfig | null>(null)
  // A start the host refused outright (arguments that do not fit), as opposed to one that failed to start.
  const [refused, setRefused] = useState<string | null>(null)
  const config = draft ?? server?.config ?? DEFAULT_SERVER_CONFIG
  const status = server?.status ?? 'stopped'
  const editable = status === 'stopped'
  const running = status === 'running'

  const setListener = (index: number, listener: ListenerConfig) =>
    setDraft({ ...config, listeners: config.listeners.map((l, i) => (i === index ? listener : l)) })
  // The draft keeps a node id typed before the URL; toStart() drops the section while the URL is empty.
  const clusterDraft: ClusterConfig = config.cluster ?? { redis: '', nodeId: '' }
  const setCluster = (change: Partial<ClusterConfig>) => setDraft({ ...config, cluster: { ...clusterDraft, ...change } })
  const setLimit = (key: keyof ServerLimits, value: number) => setDraft({ ...config, limits: { ...config.limits, [key]: value } })
  const start = () =>
    api.startServer(toStart(config)).then(
      () => {
        setDraft(null)
        setRefused(null)
      },
      (error: Error) => setRefused(error.message)
    )

  return (
    <section className="card server-card" aria-label="server">
      <header>
        <h2>Server</h2>
        <span className={`badge ${status}`} data-testid="server-status">
          {status}
        </span>
        {running && uptimeMs !== null && (
          <span className="muted" data-testid="uptime">
            up {formatDuration(uptimeMs)}
          </span>
        )}
      </header>
      <fieldset disabled={!editable}>
        <legend>Listeners</legend>
        {config.listeners.map((listener, index) => (
          <ListenerRow
            key={index}
            listener={listener}
            onChange={(l) => setListener(index, l)}
            onRemove={config.listeners.length > 1 ? () => setDraft({ ...config, listeners: config.listeners.filter((_, i) => i !== index) }) : undefined}
          />
        ))}
        <button
          type="button"
          className="ghost"
          onClick={() => setDraft({ ...config, listeners: [...config.listeners, { codec: 'line', host: '127.0.0.1', port: 0 }] })}
        >
          + listener
        </button>
        <div className="knobs">
          <label>
            workers
            <input type="number" min={0} max={64} value={shown(config.workers)} onChange={(e) => setDraft({ ...config, workers: toNumber(e.target.value) })} />
          </label>
          <label>
            work µs/msg
            <input type="number" min={0} value={shown(config.workUs)} onChange={(e) => setDraft({ ...config, workUs: toNumber(e.target.value) })} />
          </label>
        </div>
        <div className="knobs cluster-form">
          <label>
            cluster redis
            <input
              aria-label="redis url"
              placeholder="none: runs alone"
              value={clusterDraft.redis}
              onChange={(e) => setCluster({ redis: e.target.value })}
            />
          </label>
          <label>
            node id
            <input aria-label="node id" placeholder="node-a" value={clusterDraft.nodeId} onChange={(e) => setCluster({ nodeId: e.target.value })} />
          </label>
        </div>
        <details className="limits">
          <summary>Limits</summary>
          <div className="knobs limit-knobs">
            {LIMIT_FIELDS.map(({ key, label, hint, seconds }) => (
              <label key={key} title={hint}>
                {label}
                <input
                  type="number"
                  min={0}
                  step={seconds ? 'any' : 1}
                  value={shown(seconds ? config.limits[key] / 1000 : config.limits[key])}
                  onChange={(e) => setLimit(key, seconds ? secondsToMs(e.target.value) : toNumber(e.target.value))}
                />
              </label>
            ))}
          </div>
        </details>
      </fieldset>
      <div className="actions">
        <button type="button" disabled={!editable} onClick={start}>
          Start
        </button>
        <button type="button" disabled={!running} onClick={() => api.stopServer()}>
          Stop
        </button>
      </div>
      {(refused ?? server?.error) && (
        <p className="error" role="alert">
          {refused ?? server?.error}
        </p>
      )}
      {running && (
        <ul className="bound" aria-label="listening on">
          {server!.bound.map((l) => (
            <li key={l.name}>
              {l.tls ? 'tls+' : ''}{l.codec} on {l.host}:{l.port}
            </li>
          ))}
        </ul>
      )}
      {running && totals && (
        <dl className="totals">
          <dt>sessions</dt>
          <dd data-testid="total-sessions">{formatCount(totals.sessions)}</dd>
          <dt>msgs in/s</dt>
          <dd>{formatCount(totals.msgsInPerSec)}</dd>
          <dt>msgs out/s</dt>
          <dd>{formatCount(totals.msgsOutPerSec)}</dd>
          <dt>queue</dt>
          <dd>
            {formatCount(totals.logicQueueDepth)} (peak {formatCount(totals.logicQueuePeak)})
            {totals.readingPaused && <span className="badge warn">reads paused</span>}
            {totals.sessionsHeld > 0 && <span className="badge">{formatCount(totals.sessionsHeld)} held</span>}
          </dd>
          <dt>rate-limited</dt>
          <dd data-testid="rate-limited">{formatCount(totals.rateLimited)} dropped</dd>
          <dt>batches redone</dt>
          <dd data-testid="batches-redone">
            {formatCount(totals.batchesRedone)}
            {totals.batchTimeouts > 0 && <span className="badge warn">{formatCount(totals.batchTimeouts)} past deadline</span>}
          </dd>
          <dt>pool</dt>
          <dd>
            {totals.poolThreads > 0 ? `${totals.poolThreads} threads` : 'inline'} · {formatPercent(totals.poolUtilization)}
          </dd>
          <dt>logic p50 / p99</dt>
          <dd>
            {formatMs(totals.logicLatencyP50Ms)} / {formatMs(totals.logicLatencyP99Ms)}
          </dd>
          <dt>loop lag p99 / max</dt>
          <dd data-testid="loop-lag">
            {formatMs(totals.eventLoopLagP99Ms)} / {formatMs(totals.eventLoopLagMaxMs)}
          </dd>
          <dt>output pending</dt>
          <dd data-testid="output-pending">
            {formatBytes(totals.queuedBytes)}
            {totals.slowConsumers > 0 && <span className="badge warn">{plural(totals.slowConsumers, 'slow consumer')} dropped</span>}
          </dd>
        </dl>
      )}
      {running && latest && <Aggregates listeners={latest.listeners} rooms={latest.rooms} roomCount={latest.roomCount} />}
      {running && cluster && <ClusterView cluster={cluster} />}
    </section>
  )
}
