import { EventEmitter } from 'node:events'
import { ChatClient } from './client'

export interface Target {
  host: string
  port: number
}

export interface ResumingOptions {
  /** Servers to reach, tried in turn (the nodes of a cluster); the first one first. */
  targets: Target[]
  /** The first wait before reconnecting (ms); doubled at every failure up to maxBackoffMs, each wait jittered. */
  backoffMs?: number
  maxBackoffMs?: number
  keepAliveMs?: number
  /** Where the jitter comes from (0 ≤ x < 1); Math.random unless a test fixes it. */
  random?: () => number
}

/** What a reconnection got back: messages replayed, and where the server said a gap ends (null: none). */
export interface Resumption {
  target: Target
  room: string
  restored: number
  gone: string | null
}

export interface ResumingEvents {
  /** A line of the server, as ChatClient gives it (tagged MSG lines keep their `@id=` tag). */
  line: [text: string]
  /** Connected again, and the room's missed messages replayed (the lines came before this). */
  resumed: [resumption: Resumption]
  /** The connection dropped; reconnecting in `inMs`. */
  disconnected: [reason: string, inMs: number]
  /** No more reconnecting: closed by close(), or the server ended the session on purpose (a kick, a QUIT's BYE). */
  close: [reason: string]
}

const TAGGED_MSG = /^@id=(\S+) MSG /
const GUEST_NICK = /^guest-[0-9]+$/

/**
 * A line client that does not lose what was said while it was away: it asks for message ids (`CAP ids`),
 * keeps the last one it saw and its room, and when its connection drops it reconnects by itself (jittered
 * exponential backoff, to the next target after a failure) and sends `RESUME <room> <id>`: the server replays
 * what it missed, or says where the gap is (`ERR history-gone`).
 */
export class ResumingClient extends EventEmitter<ResumingEvents> {
  private client: ChatClient | null = null
  private nick: string | null = null
  private room: string | null = null
  private lastId: string | null = null
  private targetIndex = 0
  private failures = 0
  private closing = false
  /** The server's `BYE` other than for its own shutdown: the session was ended on purpose, not lost. */
  private farewell: string | null = null
  private timer: NodeJS.Timeout | null = null
  /** While a RESUME is answered: the messages replayed, and the gap said, until RESUME-END. */
  private resuming: { room: string; restored: number; gone: string | null } | null = null

  private constructor(private readonly options: ResumingOptions) {
    super()
  }

  /** Connects to the first target that answers (or rejects with the last one's error). */
  static async connect(options: ResumingOptions): Promise<ResumingClient> {
    const client = new ResumingClient(options)
    let failure: unknown
    for (let tried = 0; tried < options.targets.length; tried++) {
      try {
        await client.open()
        return client
      } catch (error) {
        failure = error
        client.targetIndex = (client.targetIndex + 1) % options.targets.length
      }
    }
    throw failure
  }

  get target(): Target {
    return this.options.targets[this.targetIndex]
  }

  /** The id of the last message seen in the room: where a resume starts. */
  get lastSeenId(): string | null {
    return this.lastId
  }

  send(line: string): void {
    this.client?.send(line)
  }

  close(): Promise<void> {
    // Already let go (the server ended it): nothing more to close or to say.
    if (this.closing && this.client === null) return Promise.resolve()
    this.closing = true
    if (this.timer) clearTimeout(this.timer)
    const closed = this.client?.close() ?? Promise.resolve()
    return closed.then(() => void this.emit('close', 'closed by client'))
  }

  private async open(): Promise<void> {
    const { host, port } = this.target
    const client = await ChatClient.connect({ host, port, keepAliveMs: this.options.keepAliveMs })
    this.client = client
    client.on('error', () => {})
    client.on('line', (line) => this.take(line))
    client.on('close', (reason) => {
      if (client === this.client) this.lost(reason)
    })
    client.send('CAP ids')
    // A nick the user chose is taken again (if the old connection still holds it, the server says nick-taken).
    if (this.nick !== null && !GUEST_NICK.test(this.nick)) client.send(`NICK ${this.nick}`)
    if (this.room !== null && this.lastId !== null) {
      this.resuming = { room: this.room, restored: 0, gone: null }
      client.send(`RESUME ${this.room} ${this.lastId}`)
    }
  }

  private take(line: string): void {
    const tagged = TAGGED_MSG.exec(line)
    if (tagged) {
      this.lastId = tagged[1]
      if (this.resuming) this.resuming.restored++
    } else if (line.startsWith('WELCOME ')) {
      // A new connection's guest name is ours until the NICK sent after CAP (if any) is answered.
      if (this.nick === null || GUEST_NICK.test(this.nick)) this.nick = line.split(' ')[2]
    } else if (line.startsWith('JOINED ') && line.split(' ')[2] === this.nick) {
      const room = line.split(' ')[1]
      // Another room: ids of the last one say nothing there.
      if (room !== this.room && this.resuming?.room !== room) this.lastId = null
      this.room = room
    } else if (line.startsWith('NICK ') && line.split(' ')[1] === this.nick) {
      this.nick = line.split(' ')[2]
    } else if (line.startsWith('BYE ') && line !== 'BYE server-shutdown') {
      this.farewell = line.slice('BYE '.length)
    } else if (this.resuming && line.startsWith('ERR history-gone ')) {
      this.resuming.gone = line.slice('ERR history-gone '.length)
    } else if (this.resuming && line.startsWith(`RESUME-END ${this.resuming.room} `)) {
      const { room, restored, gone } = this.resuming
      this.resuming = null
      this.failures = 0
      this.emit('line', line)
      this.emit('resumed', { target: this.target, room, restored, gone })
      return
    }
    this.emit('line', line)
  }

  private lost(reason: string): void {
    if (this.closing) return
    this.client = null
    if (this.farewell !== null) {
      // Kicked, or it quit: coming back would undo what was meant. A restarting server (BYE server-shutdown) is waited for.
      this.closing = true
      this.emit('close', `closed by the server: ${this.farewell}`)
      return
    }
    this.resuming = null
    const base = this.options.backoffMs ?? 100
    const ceiling = this.options.maxBackoffMs ?? 5000
    // Full jitter (as AWS's backoff advice): 2,000 clients dropped at once do not come back at once.
    const inMs = Math.round((this.options.random ?? Math.random)() * Math.min(ceiling, base * 2 ** this.failures))
    this.failures++
    this.emit('disconnected', reason, inMs)
    this.timer = setTimeout(() => this.retry(), inMs)
  }

  private retry(): void {
    this.timer = null
    if (this.closing) return
    this.open().catch((error: Error) => {
      // That target did not answer: the next one, after the next wait.
      this.targetIndex = (this.targetIndex + 1) % this.options.targets.length
      this.lost(`connect failed: ${error.message}`)
    })
  }
}
