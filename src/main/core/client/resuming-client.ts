import { EventEmitter } from 'node:events'
import { GUEST_NICK } from '../protocol/commands'
import { backoffMs } from './backoff'
import { ChatClient, type ClientAuth, type ClientTls } from './client'

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
  tls?: ClientTls
  /** A server with users: every connection logs in first; a login refused ends the client (trying again would not help). */
  auth?: ClientAuth
  /** Where the jitter comes from (0 ≤ x < 1); Math.random unless a test fixes it. */
  random?: () => number
  /**
   * Asked before each reconnection, of the target it is about to dial: null dials; a reason waits (it
   * counts as a failed try); a throw gives up (closed, with its message). The control room checks its reach here.
   */
  beforeConnect?: (target: Target) => string | null
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

/** The id tag of a line (`CAP ids`): on a MSG, the message's id; on its CAP and its own JOINED, its place. */
const TAG = /^@id=(\S+) /

/**
 * A line client that does not lose what was said while it was away: it asks for message ids (`CAP ids`),
 * keeps the last one it saw and its room, and when its connection drops it reconnects by itself (jittered
 * exponential backoff, to the next target after a failure) and sends `RESUME <room> <id>`: the server replays
 * what it missed, or says where the gap is (`ERR history-gone`).
 */
export class ResumingClient extends EventEmitter<ResumingEvents> {
  private client: ChatClient | null = null
  /** The nick it goes by: the one it chose, or its guest name. */
  private nick: string | null = null
  /** The guest name of its current connection (WELCOME): its nick again if the one it chose is taken now. */
  private sessionNick: string | null = null
  /** Its chosen nick was asked for again on a new connection, and not yet answered. */
  private reclaiming = false
  private room: string | null = null
  private lastId: string | null = null
  private targetIndex = 0
  private failures = 0
  private closing = false
  /** The server's `BYE` other than for its own shutdown: the session was ended on purpose, not lost. */
  private farewell: string | null = null
  private timer: NodeJS.Timeout | null = null
  /**
   * While a RESUME is answered: the messages replayed, and the gap said, until RESUME-END. Nothing of the
   * room counts until its own JOINED (`started`): what reached the new connection before it, the replay has.
   */
  private resuming: { room: string; restored: number; gone: string | null; started: boolean } | null = null

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
    const { keepAliveMs, tls, auth } = this.options
    const client = await ChatClient.connect({ host, port, keepAliveMs, tls, auth })
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
    this.reclaiming = this.nick !== null && !GUEST_NICK.test(this.nick)
    if (this.reclaiming) client.send(`NICK ${this.nick}`)
    if (this.room !== null && this.lastId !== null) {
      this.resuming = { room: this.room, restored: 0, gone: null, started: false }
      client.send(`RESUME ${this.room} ${this.lastId}`)
    }
  }

  private take(line: string): void {
    const tag = TAG.exec(line)
    const id = tag?.[1] ?? null
    const bare = tag ? line.slice(tag[0].length) : line
    const [verb, first, second] = bare.split(' ', 3)
    const resuming = this.resuming
    switch (verb) {
      case 'MSG':
        if (resuming) {
          // Before its own JOINED, the room's live lines (and the lobby's) are in the replay that follows it.
          if (!resuming.started || first !== resuming.room) return
          resuming.restored++
        }
        if (id !== null && first === this.room) this.lastId = id
        break
      case 'WELCOME':
        this.sessionNick = second
        // A new connection's guest name is ours until the NICK sent after CAP (if any) is answered.
        if (this.nick === null || GUEST_NICK.test(this.nick)) this.nick = second
        break
      case 'CAP':
        // With its place in its room: a resume from there misses nothing, though it heard nothing yet.
        if (id !== null && !resuming) this.lastId = id
        break
      case 'JOINED':
        if (second !== this.nick) break
        if (resuming) {
          // The new connection's lobby changes nothing; the room resumed starts the replay.
          if (first === resuming.room && id !== null) resuming.started = true
          break
        }
        // Another room (or its place told again): where it came in, so a resume from there misses nothing.
        if (first !== this.room || id !== null) this.lastId = id
        this.room = first
        break
      case 'NICK':
        if (first === this.nick || (this.reclaiming && first === this.sessionNick)) {
          this.nick = second
          this.reclaiming = false
        }
        break
      case 'BYE':
        if (bare !== 'BYE server-shutdown') this.farewell = bare.slice('BYE '.length)
        break
      case 'ERR':
        if (first === 'auth-failed' || first === 'auth-required') {
          // Not let in: the same login again would be refused again. The first refusal says why; the
          // refusals of what was sent behind the AUTH, read with it, do not.
          this.farewell ??= bare.slice('ERR '.length)
          this.emit('line', line)
          this.client?.destroy()
          return
        }
        if (first === 'nick-taken' && this.reclaiming) {
          // Its old session still holds it (a dead node's, until reaped): it goes by its guest name.
          this.nick = this.sessionNick
          this.reclaiming = false
        } else if (resuming && first === 'history-gone') resuming.gone = bare.slice('ERR history-gone '.length)
        else if (resuming) {
          // The resume itself was refused (the cluster's Redis away): this connection is given up, and tried again.
          this.emit('line', line)
          this.client?.destroy()
          return
        }
        break
      case 'RESUME-END':
        if (!resuming || first !== resuming.room) break
        this.resuming = null
        this.failures = 0
        this.emit('line', line)
        this.emit('resumed', { target: this.target, room: resuming.room, restored: resuming.restored, gone: resuming.gone })
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
    const { backoffMs: baseMs, maxBackoffMs: maxMs, random } = this.options
    const inMs = Math.round(backoffMs(this.failures++, { baseMs, maxMs, random }))
    this.emit('disconnected', reason, inMs)
    this.timer = setTimeout(() => this.retry(), inMs)
  }

  private retry(): void {
    this.timer = null
    if (this.closing) return
    let wait: string | null
    try {
      wait = this.options.beforeConnect?.(this.target) ?? null
    } catch (error) {
      this.closing = true
      this.emit('close', `gave up reconnecting: ${(error as Error).message}`)
      return
    }
    if (wait !== null) return this.lost(wait)
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
