import type { ClientConfig, ClientFrame, ClientState } from '../../shared/contract'
import { ASIO_MAX_BODY } from '../core/codec/asio'
import { ChatClient } from '../core/client/client'
import type { PeerChannel } from './host'

const FRAME_FLUSH_MS = 100
/** Frames one batch may carry: a window watching a flooded room must not drown its renderer. */
const FRAME_BATCH_CAP = 500

/** The chat client of one window: its TCP connection lives here, in the host, keyed by the window. */
const KEEPALIVE_MS = 60_000

export class WindowClient {
  private client: ChatClient | null = null
  private state: ClientState = { status: 'idle', config: null, reason: null }
  private frames: ClientFrame[] = []
  private dropped = 0
  private flushTimer: NodeJS.Timeout | null = null
  /** Bumped by every connect and by dispose: a connection that lands after a newer request is let go. */
  private generation = 0

  constructor(private readonly channel: PeerChannel) {}

  async connect(config: ClientConfig): Promise<ClientState> {
    const generation = ++this.generation
    await this.close()
    this.setState({ status: 'connecting', config, reason: null })
    let client: ChatClient
    try {
      // A window may sit and listen for hours: keep-alives spare it the server's idle timeout (300 s by default).
      client = await ChatClient.connect({ ...config, maxPayload: 1 << 20, keepAliveMs: KEEPALIVE_MS })
    } catch (error) {
      if (generation === this.generation) this.setState({ status: 'closed', config, reason: (error as Error).message })
      return this.state
    }
    if (generation !== this.generation) {
      // Superseded while connecting (another connect, or the window went away): never leave it open.
      await client.close()
      return this.state
    }
    this.client = client
    // The server's last word (`BYE kicked by the control panel`) is why it closed: the socket only knows that it did.
    let farewell: string | null = null
    client.on('line', (text) => {
      if (client.codec.name === 'line' && text.startsWith('BYE ')) farewell = text.slice('BYE '.length)
      this.receive(text)
    })
    client.on('close', (reason) => {
      if (this.client !== client) return
      this.client = null
      this.flush()
      this.setState({ status: 'closed', config, reason: farewell === null ? reason : `closed by the server: ${farewell}` })
    })
    this.setState({ status: 'connected', config, reason: null })
    return this.state
  }

  async send(text: string): Promise<void> {
    const client = this.client
    if (!client || this.state.status !== 'connected') throw new Error('not connected')
    if (client.codec.name === 'line' && /[\r\n]/.test(text)) throw new Error('a line cannot contain a line break')
    if (client.codec.name === 'asio' && Buffer.byteLength(text) > ASIO_MAX_BODY) {
      throw new Error(`an asio message is at most ${ASIO_MAX_BODY} bytes`)
    }
    client.send(text)
  }

  /** The window is gone: close the connection, and any that is still being made. */
  async dispose(): Promise<void> {
    this.generation++
    await this.close()
  }

  async close(): Promise<void> {
    const client = this.client
    if (!client) return
    this.client = null
    await client.close()
    this.flush()
    this.setState({ status: 'closed', config: this.state.config, reason: 'closed by you' })
  }

  private receive(text: string): void {
    this.frames.push({ at: Date.now(), text })
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
