import { useEffect, useRef, useState, type FormEvent } from 'react'
import type { BoundListener, ClientConfig } from '../../../shared/contract'
import { reachableHost } from '../../../shared/load'
import { toAuth } from '../auth'
import { useApi, useAppStore } from '../context'
import { formatTime } from '../format'

const NO_LISTENERS: BoundListener[] = []

/** The running server's own listener the form points at: its host as bound, or (bound to every interface) loopback. */
const ownListener = (form: ClientConfig, bound: BoundListener[]): BoundListener | undefined =>
  bound.find((l) => l.port === form.port && (form.host === l.host || form.host === reachableHost(l.host)))

/** Errors from a call (not connected, refused input) are shown, never thrown at the user. */
function useCallError() {
  const [error, setError] = useState<string | null>(null)
  const run = (promise: Promise<unknown>) => {
    setError(null)
    promise.catch((e: Error) => setError(e.message))
  }
  return [error, run] as const
}

export function ChatClient({ title = 'Chat client' }: { title?: string }) {
  const api = useApi()
  const client = useAppStore((s) => s.client)
  const messages = useAppStore((s) => s.messages)
  const dropped = useAppStore((s) => s.droppedFrames)
  const chat = useAppStore((s) => s.chat)
  const firstListener = useAppStore((s) => s.server?.bound[0] ?? s.server?.config.listeners[0])
  const bound = useAppStore((s) => (s.server?.status === 'running' ? s.server.bound : NO_LISTENERS))
  const [form, setForm] = useState<ClientConfig>({ host: '127.0.0.1', port: 7000, codec: 'line' })
  const [nick, setNick] = useState('')
  const [user, setUser] = useState('')
  const [password, setPassword] = useState('')
  const [room, setRoom] = useState('')
  const [text, setText] = useState('')
  const [error, run] = useCallError()
  const list = useRef<HTMLOListElement>(null)
  const touched = useRef(false)
  const connected = client.status === 'connected'
  // Reconnecting by itself: the connection is still this one's, to give up on, not to edit.
  const held = connected || client.status === 'reconnecting'
  const isLine = (client.config?.codec ?? form.codec) === 'line'
  const own = ownListener(form, bound)
  // As this server's own listener is bound (the host refuses a connection that does not match it), else as ticked.
  const tls = own ? own.tls === true : form.tls === true

  // Until the user edits it, the form follows the built-in server's first listener.
  useEffect(() => {
    if (!touched.current && firstListener && firstListener.port !== 0) {
      setForm({ host: firstListener.host, port: firstListener.port, codec: firstListener.codec })
    }
  }, [firstListener])

  // Follow the newest message inside the list only (scrollIntoView would scroll the whole page too).
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight
  }, [messages])

  const edit = (change: Partial<ClientConfig>) => {
    touched.current = true
    setForm({ ...form, ...change })
  }

  const connect = (event: FormEvent) => {
    event.preventDefault()
    // Async, so that a login refused here (a user without a password) is shown as the host's refusals are.
    run(
      (async () => {
        const state = await api.connectClient({ ...form, tls, auth: form.codec === 'line' ? toAuth(user, password) : null })
        if (state.status === 'connected' && form.codec === 'line' && nick) await api.sendClient(`NICK ${nick}`)
      })()
    )
  }

  const send = (event: FormEvent) => {
    event.preventDefault()
    if (!text) return
    // Cleared now, not when the host answers: what the user types meanwhile must not be wiped.
    setText('')
    run(
      api.sendClient(isLine ? `CHAT ${text}` : text).catch((error: Error) => {
        setText(text)
        throw error
      })
    )
  }

  return (
    <section className="card chat" aria-label={title}>
      <header>
        <h2>{title}</h2>
        <span className={`badge ${client.status}`} data-testid="client-status">
          {client.status}
          {connected && client.config?.tls ? ' (TLS)' : ''}
        </span>
        {chat.nick && <span className="muted">as {chat.nick}{chat.room ? ` in ${chat.room}` : ''}</span>}
      </header>
      <form className="connect" onSubmit={connect}>
        <input aria-label="server host" value={form.host} onChange={(e) => edit({ host: e.target.value })} disabled={held} />
        <input aria-label="server port" type="number" min={1} max={65535} value={form.port} onChange={(e) => edit({ port: Number(e.target.value) })} disabled={held} />
        <select aria-label="client codec" value={form.codec} onChange={(e) => edit({ codec: e.target.value as ClientConfig['codec'] })} disabled={held}>
          <option value="line">line</option>
          <option value="asio">asio</option>
        </select>
        <label className="check" title={own ? `this server's listener ${own.name}: TLS as it is bound` : 'connect over TLS (a tls+ listener)'}>
          <input type="checkbox" checked={tls} onChange={(e) => edit({ tls: e.target.checked })} disabled={held || own !== undefined} />
          TLS
        </label>
        <input aria-label="nick" placeholder="nick (optional)" value={nick} onChange={(e) => setNick(e.target.value)} disabled={held || form.codec !== 'line'} />
        <input
          aria-label="user"
          placeholder="user (optional)"
          title="A server started with users (--users): the window logs in as this user (AUTH), again at each reconnection"
          value={user}
          onChange={(e) => setUser(e.target.value)}
          disabled={held || form.codec !== 'line'}
          autoComplete="off"
          spellCheck={false}
        />
        <input aria-label="password" type="password" placeholder="password" value={password} onChange={(e) => setPassword(e.target.value)} disabled={held || form.codec !== 'line'} autoComplete="off" />
        {held ? (
          <button type="button" onClick={() => run(api.closeClient())}>
            Disconnect
          </button>
        ) : (
          <button type="submit" disabled={client.status === 'connecting'}>
            Connect
          </button>
        )}
      </form>
      {client.status === 'reconnecting' && (
        <p className="warn" role="status" data-testid="client-retry">
          reconnecting in {((client.retryInMs ?? 0) / 1000).toFixed(1)} s… ({client.reason})
        </p>
      )}
      {client.status === 'closed' && client.reason && (
        <p className="error" role="alert" data-testid="client-reason">
          {client.reason}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="chat-body">
        <ol className="messages" ref={list} aria-label="messages">
          {dropped > 0 && <li className="muted">{dropped} messages skipped: they came faster than a window can show</li>}
          {messages.map((m) => (
            <li key={m.seq} className={m.notice ? 'notice' : m.text.startsWith('ERR ') ? 'error' : undefined}>
              <time>{formatTime(m.at)}</time> <span className="text">{m.text}</span>
            </li>
          ))}
        </ol>
        {isLine && (
          <aside className="members" aria-label="members">
            <h3>{chat.room ?? 'room'}</h3>
            <ul>
              {chat.members.map((m) => (
                <li key={m}>{m}</li>
              ))}
            </ul>
            <button type="button" className="ghost" disabled={!connected} onClick={() => run(api.sendClient('WHO'))}>
              WHO
            </button>
          </aside>
        )}
      </div>
      <form className="compose" onSubmit={send}>
        <input aria-label="message" placeholder={client.status === 'reconnecting' ? 'reconnecting…' : isLine ? 'message' : 'asio body (max 512 bytes)'} value={text} onChange={(e) => setText(e.target.value)} disabled={!connected} />
        <button type="submit" disabled={!connected}>
          Send
        </button>
      </form>
      {isLine && (
        <form
          className="join"
          onSubmit={(event) => {
            event.preventDefault()
            if (room) run(api.sendClient(`JOIN ${room}`).then(() => setRoom('')))
          }}
        >
          <input aria-label="room" placeholder="room" value={room} onChange={(e) => setRoom(e.target.value)} disabled={!connected} />
          <button type="submit" disabled={!connected}>
            Join
          </button>
        </form>
      )}
    </section>
  )
}
