import { useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react'
import type { BoundListener } from '../../../shared/contract'
import { formatTarget, LOAD_DEFAULTS, parseTarget, reachableHost, type LoadConfig, type LoadMode, type LoadTarget } from '../../../shared/load'
import type { CodecName } from '../../../shared/telemetry'
import { toAuth } from '../auth'
import { useApi, useAppStore } from '../context'
import { secondsToMs, toNumber } from '../fields'


/**
 * What the user typed, as typed: numbers stay strings until Run, so a half-typed value ("0.") is not
 * rewritten under the cursor. The host checks the resulting config and says what is wrong.
 */
interface LoadDraft {
  /**
   * `listener:<index>` into the server's bound listeners, or `custom`; '' follows the first listener;
   * `saved` is the listener at the last run's address while the server has one, else that address as custom.
   */
  target: string
  /** Custom: `host:port`, comma-separated for several (the nodes of a cluster). */
  targets: string
  codec: CodecName
  clients: string
  connectRate: string
  mode: LoadMode
  window: string
  rate: string
  messages: string
  durationSec: string
  size: string
  roomSize: string
  agents: string
  timeoutSec: string
  allowRemote: boolean
  resume: boolean
  stormAfterSec: string
  /** Line protocol: every client logs in as this user (empty: no login). */
  user: string
  password: string
}

/** The fields typed as numbers (kept as text until Run). */
type NumberField = Exclude<keyof LoadDraft, 'target' | 'targets' | 'codec' | 'mode' | 'allowRemote' | 'resume' | 'user' | 'password'>

const CUSTOM = 'custom'
const SAVED = 'saved'
const NO_LISTENERS: BoundListener[] = []

/** The form as the last run left it (the host keeps it between launches). */
const draftFrom = (config: LoadConfig): LoadDraft => ({
  target: SAVED,
  targets: config.targets.map(formatTarget).join(', '),
  codec: config.codec,
  clients: String(config.clients),
  connectRate: String(config.connectRate),
  mode: config.mode,
  window: String(config.window),
  rate: String(config.rate),
  messages: String(config.messages),
  durationSec: String(config.durationMs / 1000),
  size: String(config.size),
  roomSize: String(config.roomSize),
  agents: String(config.agents),
  timeoutSec: String(config.timeoutMs / 1000),
  allowRemote: config.allowRemote,
  resume: config.resume,
  stormAfterSec: String(config.stormAfterMs / 1000),
  user: config.auth?.user ?? '',
  // The host keeps no password (withoutPassword): a run as that user again needs it typed again.
  password: ''
})

/** The form before any run: the defaults, aimed at the default line listener. */
const initialDraft = (): LoadDraft => ({ ...draftFrom({ ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7000 }] }), target: '' })



const describeListener = (l: BoundListener): string => `${l.tls ? 'tls+' : ''}${l.codec} on ${l.host}:${l.port}`

/** The target the form points at: the chosen listener while the server has it, else a custom address. */
function effectiveTarget(draft: LoadDraft, bound: BoundListener[]): string {
  if (draft.target === SAVED) {
    const index = bound.findIndex((l) => l.codec === draft.codec && formatTarget({ host: reachableHost(l.host), port: l.port }) === draft.targets)
    return index >= 0 ? `listener:${index}` : CUSTOM
  }
  const chosen = draft.target || (bound.length > 0 ? 'listener:0' : CUSTOM)
  if (chosen === CUSTOM) return CUSTOM
  return bound[Number(chosen.slice('listener:'.length))] ? chosen : CUSTOM
}

/** The custom targets as typed; what is not `host:port` at all is named here, the rest is the host's to judge. */
function parseTargets(text: string): LoadTarget[] {
  return text.split(',').map((part) => {
    const target = parseTarget(part)
    if (!target) throw new Error(`targets: "${part.trim()}" is not host:port (several: separated by commas)`)
    return target
  })
}

/** Resuming is for the line protocol (asio has no message ids); a storm, for resuming clients. */
const resumes = (draft: LoadDraft, codec: CodecName): boolean => draft.resume && codec === 'line'

function toConfig(draft: LoadDraft, target: string, bound: BoundListener[]): LoadConfig {
  const listener = target === CUSTOM ? undefined : bound[Number(target.slice('listener:'.length))]
  const endpoint = listener
    ? { targets: [{ host: reachableHost(listener.host), port: listener.port }], codec: listener.codec }
    : { targets: parseTargets(draft.targets), codec: draft.codec }
  return {
    ...endpoint,
    // This server's own TLS listener: its certificate is this server's, so the run takes whatever it presents.
    tls: listener?.tls ? { ca: null, insecure: true } : null,
    clients: toNumber(draft.clients),
    connectRate: toNumber(draft.connectRate),
    mode: draft.mode,
    // The knob the other mode uses is sent at its default, so a field the user cannot see never fails a run.
    window: draft.mode === 'closed' ? toNumber(draft.window) : LOAD_DEFAULTS.window,
    rate: draft.mode === 'open' ? toNumber(draft.rate) : LOAD_DEFAULTS.rate,
    messages: toNumber(draft.messages),
    durationMs: secondsToMs(draft.durationSec),
    size: toNumber(draft.size),
    roomSize: endpoint.codec === 'line' ? toNumber(draft.roomSize) : 0,
    agents: toNumber(draft.agents),
    timeoutMs: secondsToMs(draft.timeoutSec),
    allowRemote: draft.allowRemote,
    resume: resumes(draft, endpoint.codec),
    stormAfterMs: resumes(draft, endpoint.codec) ? secondsToMs(draft.stormAfterSec) : 0,
    // Asio has no login: a user typed for the line protocol is kept in the form, not sent.
    auth: endpoint.codec === 'line' ? toAuth(draft.user, draft.password) : null
  }
}

/**
 * A labelled control. The label is a sibling tied by id, not a wrapper: a wrapping label would give a
 * select a name that includes its chosen option, and tests find the control by its label alone.
 */
function Knob({ label, hint, control }: { label: string; hint?: string; control: (id: string) => ReactNode }) {
  const id = useId()
  return (
    <div className="knob" title={hint}>
      <label htmlFor={id}>{label}</label>
      {control(id)}
    </div>
  )
}

/** The run's knobs (the CLI's, in a form), and Run/Halt. */
export function LoadForm() {
  const api = useApi()
  const bound = useAppStore((s) => (s.server?.status === 'running' ? s.server.bound : NO_LISTENERS))
  const running = useAppStore((s) => s.loadRunId !== null)
  const loadStarted = useAppStore((s) => s.loadStarted)
  const lastLoad = useAppStore((s) => s.lastLoadConfig)
  // Untouched, the form follows the last run (which the host may answer for after the first render).
  const untouched = useMemo(() => (lastLoad ? draftFrom(lastLoad) : initialDraft()), [lastLoad])
  const [edited, setDraft] = useState<LoadDraft | null>(null)
  const draft = edited ?? untouched
  const [pending, setPending] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const target = effectiveTarget(draft, bound)
  const listener = target === CUSTOM ? undefined : bound[Number(target.slice('listener:'.length))]
  const codec = listener?.codec ?? draft.codec

  const messagesTyped = useRef(false)
  const edit = (change: Partial<LoadDraft>) => {
    if (change.messages !== undefined) messagesTyped.current = true
    // A duration over a message count nobody typed here means "for that long", as on the CLI: the count
    // shown would otherwise end the run first, unsaid. The field shows the 0, so nothing is hidden.
    else if (change.durationSec !== undefined && Number(change.durationSec) > 0 && !messagesTyped.current) change = { ...change, messages: '0' }
    setDraft((current) => ({ ...(current ?? untouched), ...change }))
  }
  const numberInput = (field: NumberField, props: { min?: number; step?: number | 'any'; disabled?: boolean } = {}) => (id: string) => (
    <input
      id={id}
      type="number"
      inputMode="decimal"
      value={draft[field]}
      onChange={(e) => edit({ [field]: e.target.value })}
      min={props.min ?? 0}
      step={props.step ?? 1}
      disabled={props.disabled}
    />
  )

  const run = (event: FormEvent) => {
    event.preventDefault()
    setError(null)
    let config: LoadConfig
    try {
      config = toConfig(draft, target, bound)
    } catch (e) {
      return setError((e as Error).message)
    }
    setPending(true)
    api
      .startLoad(config)
      .then(({ runId }) => loadStarted(runId), (e: Error) => setError(e.message))
      .finally(() => setPending(false))
  }

  const halt = () => {
    setError(null)
    api.stopLoad().catch((e: Error) => setError(e.message))
  }

  return (
    // noValidate: the host is the one judge of a config (it knows rules a min= cannot say, such as agents
    // <= clients), and its message shows in one place, the alert below.
    <form className="load-form" aria-label="load settings" onSubmit={run} noValidate>
      <fieldset disabled={running || pending}>
        <legend>Target</legend>
        <Knob
          label="target"
          control={(id) => (
            <select id={id} value={target} onChange={(e) => edit({ target: e.target.value })}>
              {bound.map((l, index) => (
                <option key={l.name} value={`listener:${index}`}>
                  built-in server: {describeListener(l)}
                </option>
              ))}
              <option value={CUSTOM}>custom host:port (or several)</option>
            </select>
          )}
        />
        {target === CUSTOM && (
          <div className="load-row">
            <Knob
              label="targets"
              hint="host:port, or several separated by commas (the nodes of a cluster): client i connects to the (i mod n)-th, so every room spans them"
              control={(id) => (
                <input id={id} value={draft.targets} onChange={(e) => edit({ targets: e.target.value })} placeholder="127.0.0.1:7000, 127.0.0.1:7100" spellCheck={false} />
              )}
            />
            <Knob
              label="target codec"
              control={(id) => (
                <select id={id} value={draft.codec} onChange={(e) => edit({ codec: e.target.value as CodecName })}>
                  <option value="line">line</option>
                  <option value="asio">asio</option>
                </select>
              )}
            />
          </div>
        )}
        <div className="load-login">
          <Knob
            label="user"
            hint="Line protocol, a server started with users (--users): every client logs in as this user first (AUTH); empty: no login"
            control={(id) => (
              <input id={id} value={draft.user} onChange={(e) => edit({ user: e.target.value })} disabled={codec !== 'line'} autoComplete="off" spellCheck={false} />
            )}
          />
          <Knob
            label="password"
            hint="The user's password; never kept, so typed again after a relaunch"
            control={(id) => (
              <input id={id} type="password" value={draft.password} onChange={(e) => edit({ password: e.target.value })} disabled={codec !== 'line'} autoComplete="off" />
            )}
          />
        </div>
        <label className="check">
          <input type="checkbox" checked={draft.allowRemote} onChange={(e) => edit({ allowRemote: e.target.checked })} />
          allow a remote target
        </label>
      </fieldset>
      <fieldset disabled={running || pending}>
        <legend>Load</legend>
        <div className="load-knobs">
          <Knob label="clients" control={numberInput('clients', { min: 1 })} />
          <Knob label="connects/s" hint="New connections per second while ramping up; 0 = as fast as possible" control={numberInput('connectRate')} />
          <Knob label="agents" hint="Load-generating processes the clients are spread over" control={numberInput('agents', { min: 1 })} />
          <Knob
            label="mode"
            hint="closed: each client keeps at most `window` un-echoed messages; open: each sends at a fixed rate"
            control={(id) => (
              <select id={id} value={draft.mode} onChange={(e) => edit({ mode: e.target.value as LoadMode })}>
                <option value="closed">closed</option>
                <option value="open">open</option>
              </select>
            )}
          />
          {draft.mode === 'closed' ? (
            <Knob label="window" hint="Un-echoed messages a client may have in flight" control={numberInput('window', { min: 1 })} />
          ) : (
            <Knob label="msgs/s per client" control={numberInput('rate', { min: 1 })} />
          )}
          <Knob label="messages per client" hint="0 = until the duration is up" control={numberInput('messages')} />
          <Knob label="duration (s)" hint="0 = until every client has sent its messages" control={numberInput('durationSec', { step: 'any' })} />
          <Knob label="size (bytes)" hint="Body bytes of each message" control={numberInput('size', { min: 1 })} />
          <Knob label="room size" hint="Line protocol only: clients are spread over rooms of this many; 0 = all in the lobby" control={numberInput('roomSize', { disabled: codec !== 'line' })} />
          <Knob label="timeout (s)" hint="Longest wait for connections, for rooms to fill, and for the last deliveries" control={numberInput('timeoutSec', { min: 0.001, step: 'any' })} />
        </div>
        <div className="load-resume">
          <label className="check" title="Line protocol only: clients ask for message ids and RESUME where they were; the report says what came back">
            <input type="checkbox" checked={resumes(draft, codec)} disabled={codec !== 'line'} onChange={(e) => edit({ resume: e.target.checked })} />
            clients resume after a lost connection (CAP ids + RESUME)
          </label>
          <Knob
            label="reconnect storm after (s)"
            hint={
              'Seconds after sending starts; 0 = none. Needs resuming clients. At that moment the control room restarts its own ' +
              'server (or its node of a cluster), so every client reconnects at once and resumes; a target it does not run has ' +
              "every client's connection cut instead."
            }
            control={numberInput('stormAfterSec', { step: 'any', disabled: !resumes(draft, codec) })}
          />
        </div>
      </fieldset>
      <div className="actions">
        <button type="submit" disabled={running || pending}>
          Run load
        </button>
        <button type="button" disabled={!running} onClick={halt}>
          Halt load
        </button>
        {listener && <span className="muted">→ {describeListener(listener)}</span>}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  )
}
