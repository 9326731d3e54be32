import { EventEmitter } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { getCodec, type Codec, type CodecName } from '../codec'

export interface ClientOptions {
  port: number
  host?: string
  codec?: CodecName
  /** Largest frame accepted from the server (a line, or an asio body). */
  maxPayload?: number
  /**
   * Line codec: send a PING this often (ms), so a client that only listens is not closed as idle by a
   * server's idle timeout; its PONG is not passed on. 0 or absent: never.
   */
  keepAliveMs?: number
  /** Over TLS (a `tls+` listener): the CA to trust (PEM), or none to trust only the system's. */
  tls?: ClientTls
  /** Line codec, a server with users: logs in first thing (`AUTH`); its WELCOME, or `ERR auth-failed`, follows. */
  auth?: ClientAuth
}

export interface ClientAuth {
  user: string
  password: string
}

export interface ClientTls {
  ca?: string | Buffer
  /** A client certificate and key (PEM), for a server that requires one. */
  cert?: string | Buffer
  key?: string | Buffer
  /** Accept any certificate: for a test server's own, never for a server one cares about. */
  insecure?: boolean
}

/** The token of keep-alive PINGs: their PONGs are the client's own business, not its user's. */
const KEEPALIVE_TOKEN = 'switchboard-keepalive'
const KEEPALIVE_PING = `PING ${KEEPALIVE_TOKEN}\n`
const KEEPALIVE_PONG = `PONG ${KEEPALIVE_TOKEN}`

export interface ClientEvents {
  /** Every frame's payload as bytes. */
  frame: [payload: Buffer]
  /** The same payload as text: a line of the line protocol, or an asio body. */
  line: [text: string]
  /** The server broke framing or the socket failed; 'close' follows. Only emitted while someone listens. */
  error: [error: Error]
  close: [reason: string]
}

/** An async chat client over either codec: used by tests, client windows and the load generator. */
export class ChatClient extends EventEmitter<ClientEvents> {
  private closeReason: string | null = null
  private readonly closed: Promise<void>

  private constructor(
    private readonly socket: Socket,
    readonly codec: Codec,
    maxPayload: number,
    keepAliveMs: number
  ) {
    super()
    socket.setNoDelay(true)
    const keepingAlive = keepAliveMs > 0 && codec.name === 'line'
    const keepAlive = keepingAlive ? setInterval(() => this.sendRaw(KEEPALIVE_PING), keepAliveMs).unref() : null
    const decoder = codec.createDecoder(
      {
        onFrame: (payload) => {
          if (keepingAlive && payload.length === KEEPALIVE_PONG.length && payload.toString('latin1') === KEEPALIVE_PONG) return
          this.emit('frame', payload)
          if (this.listenerCount('line') > 0) this.emit('line', payload.toString('utf8'))
        },
        onError: (code, detail) => {
          this.fail(new Error(`${code}: ${detail}`))
          socket.destroy()
        }
      },
      maxPayload
    )
    socket.on('data', (chunk: Buffer) => decoder.write(chunk))
    socket.on('error', (error) => this.fail(error))
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        if (keepAlive) clearInterval(keepAlive)
        this.emit('close', this.closeReason ?? 'closed by server')
        resolve()
      })
    )
  }

  /** An unheard 'error' would throw; a client failing must never take its host process down. */
  private fail(error: Error): void {
    this.closeReason ??= error.message
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  static connect(options: ClientOptions): Promise<ChatClient> {
    const codec = getCodec(options.codec ?? 'line')
    const { port, host = '127.0.0.1', tls, auth } = options
    if (auth && codec.name !== 'line') return Promise.reject(new Error("the asio protocol has no login: auth is for line listeners"))
    return new Promise((resolve, reject) => {
      // Over TLS, connected once the handshake is done (the server's certificate checked).
      const socket = tls
        ? tlsConnect({ port, host, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure })
        : netConnect({ port, host })
      socket.once('error', reject)
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject)
        const client = new ChatClient(socket, codec, options.maxPayload ?? 1 << 20, options.keepAliveMs ?? 0)
        if (auth) client.send(`AUTH ${auth.user} ${auth.password}`)
        resolve(client)
      })
    })
  }

  /** Frames and sends one payload; false means the socket is buffering (wait for 'drain' on a flood). */
  send(payload: string | Buffer): boolean {
    return this.socket.write(this.codec.encode(payload))
  }

  /** Sends already-framed bytes as they are, e.g. to test how a server takes bad input. */
  sendRaw(bytes: Buffer | string): boolean {
    return this.socket.write(bytes)
  }

  /** Drops the connection at once, as a crashed peer would: pending output is discarded. */
  destroy(): void {
    this.closeReason ??= 'destroyed by client'
    this.socket.destroy()
  }

  /** Drops the connection with a TCP reset (RST), as a peer whose host gave up on it would. */
  reset(): void {
    this.closeReason ??= 'reset by client'
    this.socket.resetAndDestroy()
  }

  /** Resolves once the socket is closed; pending output is sent first. */
  close(): Promise<void> {
    this.closeReason ??= 'closed by client'
    this.socket.end()
    return this.closed
  }
}
