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
  /** A line of the server, as ChatClient gives it (tagged lines keep their `@id=` tag). */
  line: [text: string]
  /** Connected again after a drop; `resuming`: a RESUME was sent, and 'resumed' follows once it is answered. */
  reconnected: [target: Target, resuming: boolean]
  /** Connected again, and the room's missed messages replayed (the lines came before this). */
  resumed: [resumption: Resumption]
  /** The connection dropped; reconnecting in `inMs`. */
  disconnected: [reason: string, inMs: number]
  /** No more reconnecting: closed by close(), or the server ended the session on purpose (a kick, a QUIT's BYE). */
  close: [reason: string]
}

/** The id tag of a line (`CAP ids`): on a MSG, the message's id; on one's own JOINED, where one came in. */
const TAG = /^@id=(\S+) /
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

  /** Stops at once, as ChatClient.destroy does: the connection is dropped, its pending output discarded. */
  destroy(): void {
    if (this.closing && this.client === null) return
    this.closing = true
    if (this.timer) clearTimeout(this.timer)
    const client = this.client
    this.client = null
    client?.destroy()
    this.emit('close', 'destroyed by client')
  }

  private async open(): Promise<void> {
    const { host, port } = this.target
    const client = await ChatClient.connect({ host, port, keepAliveMs: this.options.keepAliveMs })
    if (this.closing) {
      // close() came while this connection was being made: it must not outlive it.
      client.destroy()
      return
    }
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
    const tag = TAG.exec(line)
    const id = tag?.[1] ?? null
    const bare = tag ? line.slice(tag[0].length) : line
    if (id !== null && bare.startsWith('MSG ')) {
      this.lastId = id
      if (this.resuming) this.resuming.restored++
    } else if (line.startsWith('WELCOME ')) {
      // A new connection's guest name is ours until the NICK sent after CAP (if any) is answered.
      if (this.nick === null || GUEST_NICK.test(this.nick)) this.nick = line.split(' ')[2]
    } else if (bare.startsWith('JOINED ') && bare.split(' ')[2] === this.nick) {
      // While resuming, the new connection's lobby and the room resumed change nothing: it resumes from
      // where it was. Otherwise its own JOINED in another room says where it came in (tagged with that
      // place, since it asked for ids): a resume from there misses nothing said since, though it heard nothing.
      const room = bare.split(' ')[1]
      if (this.resuming === null) {
        if (room !== this.room || id !== null) this.lastId = id
        this.room = room
      }
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
    this.open().then(
      () => {
        if (this.client !== null) this.emit('reconnected', this.target, this.resuming !== null)
      },
      (error: Error) => {
        // That target did not answer: the next one, after the next wait.
        this.targetIndex = (this.targetIndex + 1) % this.options.targets.length
        this.lost(`connect failed: ${error.message}`)
      }
    )
  }
}
