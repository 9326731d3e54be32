import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls'
import type { TlsFiles } from '../server/options'
import { TurnQueue } from './turn-queue'

/**
 * Handshakes in progress at once; past this, new connections are closed at once. A bound on what
 * half-open handshakes hold (a storm of them, or of stalled ones, cannot grow memory without end), not a
 * queue: a stalled handshake holds no CPU, and waiting behind it would let a few idle peers block everyone.
 */
const MAX_PENDING = 4096

/** A TLS record's header: content type, version, length. A hello's record is at most 2^14 bytes of payload. */
const RECORD_HEADER = 5
const MAX_RECORD = RECORD_HEADER + (1 << 14)

/**
 * Calls `done` once the peer's first TLS record (its hello) is whole in the socket's buffer, however many
 * segments it came in; or once the bytes can be no hello (a plaintext client), or the peer ended. What it
 * read to see is put back, for the TLS socket to read.
 */
function whenHelloIn(raw: Socket, done: () => void): void {
  let head = Buffer.alloc(0)
  const read = () => {
    for (let chunk: Buffer | null; (chunk = raw.read() as Buffer | null) !== null; ) head = Buffer.concat([head, chunk])
    const whole = head.length >= RECORD_HEADER && (head[0] !== 0x16 || head.length >= Math.min(MAX_RECORD, RECORD_HEADER + head.readUInt16BE(3)))
    if (whole) finish()
  }
  const finish = () => {
    raw.off('readable', read)
    raw.off('end', finish)
    raw.unshift(head)
    done()
  }
  raw.on('readable', read)
  raw.once('end', finish)
}

/** What a handshake came to. */
export interface TlsEvents {
  /** Done: the session may start on `socket`. */
  secured(socket: TLSSocket): void
  /** Failed or cut (a plaintext client, a bad or missing client certificate, a stall): from where, and why. */
  failed(from: string, why: string): void
}

function contextOf(files: TlsFiles): SecureContextOptions {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: files.ca ? readFileSync(files.ca) : undefined }
}

/**
 * The TLS of a server's TLS listeners. They accept plain TCP and hand each connection here, to a `tls.Server`
 * of their own that never listens (Node's documented `emit('connection', socket)`), so Node checks the
 * certificates: each handshake is cut after `handshakeTimeoutMs` (the partial-line timeout: a handshake is a
 * line that never ends), at most MAX_PENDING are in progress, and reload() reads the files again for the
 * connections after it, while the sessions already secured go on with theirs.
 *
 * A handshake's costly part is the server's answer to the client's hello (key exchange and signature: from
 * under a millisecond with an EC key to ten with RSA-4096, on the one I/O thread). Hellos that arrive together
 * would all be answered in one turn, and every established session's reads would wait for all of them. So a
 * connection is handed to TLS only once its whole hello is in (whenHelloIn), and at most `handshakesPerTurn` a
 * turn, between the turns' reads (TurnQueue). A peer that has sent nothing, or half a hello, takes no turn;
 * waiting counts against its timeout.
 */
export class TlsTerminator {
  private context: SecureContextOptions
  private readonly servers: Server[] = []
  /** Connections whose handshake is not done, by their addresses (the TLS socket Node makes of one has the same): cut when the server stops. */
  private readonly pending = new Map<string, Socket>()
  /** Connections waiting for their turn to start their handshake, with the listener's TLS server. */
  private readonly turns: TurnQueue<{ raw: Socket; server: Server }>

  constructor(
    private readonly files: TlsFiles,
    private readonly handshakeTimeoutMs: number,
    handshakesPerTurn: number
  ) {
    this.context = contextOf(files)
    this.turns = new TurnQueue(handshakesPerTurn, ({ raw, server }) => server.emit('connection', raw))
  }

  /** Reads the certificate, key and CA again (throws, keeping the old ones, if they cannot be read). */
  reload(): void {
    const context = contextOf(this.files)
    for (const server of this.servers) server.setSecureContext(context)
    this.context = context
  }

  /** The TLS of one listener: give it each connection the listener accepts. */
  listener(events: TlsEvents): (raw: Socket) => void {
    const requireClientCert = this.files.ca !== undefined
    const server = createServer({
      ...this.context,
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      // Node's own (an idle timeout on the TLS socket) does not cut a peer that sends nothing: ours does, below.
      handshakeTimeout: 0,
      allowHalfOpen: true
    })
    this.servers.push(server)
    server.on('secureConnection', (socket: TLSSocket) => {
      this.pending.delete(connectionOf(socket))
      events.secured(socket)
    })
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => events.failed(`${socket.remoteAddress}:${socket.remotePort}`, error.message))
    return (raw) => {
      if (this.pending.size >= MAX_PENDING) {
        events.failed(`${raw.remoteAddress}:${raw.remotePort}`, `${MAX_PENDING} TLS handshakes are in progress already`)
        raw.destroy()
        return
      }
      const key = connectionOf(raw)
      this.pending.set(key, raw)
      const timer =
        this.handshakeTimeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.get(key) !== raw) return
              events.failed(`${raw.remoteAddress}:${raw.remotePort}`, `no TLS handshake within ${this.handshakeTimeoutMs} ms`)
              raw.destroy()
            }, this.handshakeTimeoutMs)
          : null
      const turn = { raw, server }
      // Until the TLS socket takes it over (and hears its errors): a reset while it waits must not go unheard.
      raw.on('error', () => {})
      raw.once('close', () => {
        if (timer) clearTimeout(timer)
        if (this.pending.get(key) === raw) this.pending.delete(key)
        this.turns.remove(turn)
      })
      whenHelloIn(raw, () => this.turns.push(turn))
    }
  }

  /** Cuts every handshake not yet done: the server is stopping. */
  close(): void {
    for (const raw of this.pending.values()) raw.destroy()
  }
}

/** A connection's two ends: the same for the TCP socket and the TLS socket over it. */
const connectionOf = (socket: Socket): string => `${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`
