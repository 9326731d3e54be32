import type { ClientConfig, ClientFrame, ClientState } from '../../shared/contract'
import { ASIO_MAX_BODY } from '../core/codec/asio'
import { ChatClient, type ClientTls } from '../core/client/client'
import { ResumingClient } from '../core/client/resuming-client'
import type { PeerChannel } from './host'

const FRAME_FLUSH_MS = 100
/** Frames one batch may carry: a window watching a flooded room must not drown its renderer. */
const FRAME_BATCH_CAP = 500
const KEEPALIVE_MS = 60_000

/** What the window hears from its connection, whichever client holds it: lines, and the end of it. */
interface Connection {
  on(event: 'line', listener: (text: string) => void): unknown
  on(event: 'close', listener: (reason: string) => void): unknown
}

/**
 * Line: a client that comes back by itself after a lost connection and resumes its room, asking `reach`
 * before each reconnection. Asio: the plain client, whose connection, once lost, stays lost (that protocol
 * has no resume).
 */
function dial(config: ClientConfig, tls: ClientTls | undefined, reach: Reconnecting): Promise<ChatClient | ResumingClient> {
  const { host, port, codec } = config
  const auth = config.auth ?? undefined
  // A window may sit and listen for hours: keep-alives spare it the server's idle timeout (300 s by default).
  if (codec === 'line') {
    return ResumingClient.connect({ targets: [{ host, port }], keepAliveMs: KEEPALIVE_MS, tls, auth, beforeConnect: () => reach(config) })
  }
  return ChatClient.connect({ host, port, codec, tls, maxPayload: 1 << 20, keepAliveMs: KEEPALIVE_MS })
}

/** What a window is told of its own config: never the password it logged in with. */
const shown = (config: ClientConfig): ClientConfig => (config.auth ? { ...config, auth: { user: config.auth.user, password: '' } } : config)

/**
 * Whether a window may reconnect to its target now: null if so, why it waits if not yet (its server is
 * restarting); throws if never (the host's reach: the port may have been taken by something else meanwhile).
 */
export type Reconnecting = (config: ClientConfig) => string | null

const messages = (count: number): string => `${count} ${count === 1 ? 'message' : 'messages'}`

/** What a resumption restored, said in the window's log where the replayed lines end. */
export function resumedNotice(restored: number, gone: string | null): string {
  if (gone !== null) {
    const after = restored > 0 ? `; ${messages(restored)} after the gap restored` : ''
    return `reconnected — history gap: messages sent while you were away may be missing (the server had not kept them all)${after}`
  }
  return restored === 0 ? 'reconnected — no messages missed' : `reconnected — ${restored === 1 ? '1 missed message' : `${restored} missed messages`} restored`
}

/** The chat client of one window: its TCP connection lives here, in the host, keyed by the window. */
export class WindowClient {
  private client: ChatClient | ResumingClient | null = null
  private state: ClientState = { status: 'idle', config: null, reason: null, retryInMs: null }
  private frames: ClientFrame[] = []
  private dropped = 0
  private flushTimer: NodeJS.Timeout | null = null
  /** Bumped by every connect and by dispose: a connection that lands after a newer request is let go. */
  private generation = 0

  constructor(
    private readonly channel: PeerChannel,
    private readonly reach: Reconnecting = () => null
  ) {}

  /** Connects to `target`, over TLS with `tls` (the host's choice of what to trust) when it asks for TLS. */
  async connect(target: ClientConfig, tls?: ClientTls): Promise<ClientState> {
    const generation = ++this.generation
    await this.close()
    const config = shown(target)
    this.setState({ status: 'connecting', config, reason: null, retryInMs: null })
    let client: ChatClient | ResumingClient
    try {
      client = await dial(target, tls, this.reach)
    } catch (error) {
      if (generation === this.generation) this.setState({ status: 'closed', config, reason: (error as Error).message, retryInMs: null })
      return this.state
    }
    if (generation !== this.generation) {
      // Superseded while connecting (another connect, or the window went away): never leave it open.
      await client.close()
      return this.state
    }
    this.client = client
    const connection: Connection = client
    connection.on('line', (text) => this.receive(text))
    // Lost for good: asio's connection dropped, or a line session ended on purpose (a kick, its QUIT).
    connection.on('close', (reason) => {
      if (this.client !== client) return
      this.client = null
      this.flush()
      this.setState({ status: 'closed', config, reason, retryInMs: null })
    })
    if (client instanceof ResumingClient) this.follow(client, config)
    this.setState({ status: 'connected', config, reason: null, retryInMs: null })
    return this.state
  }

  async send(text: string): Promise<void> {
    const { status, config } = this.state
    if (!this.client || status !== 'connected' || !config) {
      throw new Error(status === 'reconnecting' && config ? `not connected: reconnecting to ${config.host}:${config.port}` : 'not connected')
    }
    if (config.codec === 'line' && /[\r\n]/.test(text)) throw new Error('a line cannot contain a line break')
    if (config.codec === 'asio' && Buffer.byteLength(text) > ASIO_MAX_BODY) {
      throw new Error(`an asio message is at most ${ASIO_MAX_BODY} bytes`)
    }
    this.client.send(text)
  }

  /** The window is gone: close the connection, and any that is still being made. */
  async dispose(): Promise<void> {
    this.generation++
    await this.close()
  }

  /** Closes the connection, and stops any reconnecting. */
  close(): Promise<void> {
    return this.end('closed by you')
  }

  /** A line client's comings and goings: reconnecting while it is away, and what came back with it. */
  private follow(client: ResumingClient, config: ClientConfig): void {
    // The server's last word is why the connection went (`BYE server-shutdown`); the socket only knows that it did.
    let farewell: string | null = null
    client.on('line', (text) => {
      if (text.startsWith('BYE ')) farewell = text.slice('BYE '.length)
    })
    client.on('disconnected', (reason, inMs) => {
      if (this.client !== client) return
      const why = farewell === null ? reason : `closed by the server: ${farewell}`
      farewell = null
      if (this.state.status === 'connected') this.receive(`connection lost (${why}) — reconnecting`, true)
      this.flush()
      this.setState({ status: 'reconnecting', config, reason: why, retryInMs: inMs })
    })
    client.on('reconnected', (_target, resuming) => {
      if (this.client !== client) return
      this.setState({ status: 'connected', config, reason: null, retryInMs: null })
      if (!resuming) this.receive('reconnected — nothing to resume: no message had been seen in the room', true)
    })
    client.on('resumed', ({ restored, gone }) => {
      if (this.client === client) this.receive(resumedNotice(restored, gone), true)
    })
  }

  private async end(reason: string): Promise<void> {
    const client = this.client
    if (!client) return
    this.client = null
    await client.close()
    this.flush()
    this.setState({ status: 'closed', config: this.state.config, reason, retryInMs: null })
  }

  private receive(text: string, notice = false): void {
    this.frames.push(notice ? { at: Date.now(), text, notice } : { at: Date.now(), text })
    if (this.frames.length > FRAME_BATCH_CAP) {
      this.dropped += this.frames.length - FRAME_BATCH_CAP
      this.frames.splice(0, this.frames.length - FRAME_BATCH_CAP)
    }
    this.flushTimer ??= setTimeout(() => this.flush(), FRAME_FLUSH_MS)
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer)
    this.flushTimer = null
    if (this.frames.length === 0 && this.dropped === 0) return
    this.channel.send('onClientFrames', { frames: this.frames, dropped: this.dropped })
    this.frames = []
    this.dropped = 0
  }

  private setState(state: ClientState): void {
    this.state = state
    this.channel.send('onClientState', state)
  }
}
