import type { Listener } from '../server/room-lines'

/** A room's feed writes to a local member through this: a session, or in a test anything that takes frames. */
export interface FeedListener extends Listener {
  /** Sent `CAP ids`: its MSG lines carry their ids. */
  readonly tagged?: boolean
  /** Its own JOINED was just sent to it: it is a member of the room from here on. */
  entered?(): void
}

type Held = { frame: Buffer; messages: number | undefined; lazy: boolean }

/**
 * A local member as its room's feed writes to it: whether it asked for ids, and a hold on what the room
 * sends it while a replay (HISTORY, RESUME) is on its way from Redis. The replay is of the stream up to
 * where the hold began, and the room goes on delivering meanwhile: what it delivered waits here, and
 * follows the replay, so the member gets both in the stream's order, nothing twice and nothing missing.
 */
export class Seat implements FeedListener {
  tagged = false
  private held: Held[] | null = null
  /** Hold from the member's next JOINED on: a RESUME that joins replays up to that entry. */
  private holdOnEntry = false

  constructor(private readonly session: Listener) {}

  send(frame: Buffer, messages?: number): void {
    if (this.held) this.held.push({ frame, messages, lazy: false })
    else this.session.send(frame, messages)
  }

  sendLazily(frame: Buffer): void {
    if (this.held) this.held.push({ frame, messages: undefined, lazy: true })
    else this.session.sendLazily(frame)
  }

  entered(): void {
    if (!this.holdOnEntry) return
    this.holdOnEntry = false
    this.hold()
  }

  /** Holds what the room delivers from now on. */
  hold(): void {
    this.held ??= []
  }

  /** Holds what the room delivers after the member's own JOINED (which it is sent). */
  holdFromEntry(): void {
    this.holdOnEntry = true
  }

  /** Sends `replay` (one frame, of `messages` messages), then what was held, and stops holding. */
  release(replay: Buffer | null, messages: number): void {
    const held = this.held ?? []
    this.held = null
    this.holdOnEntry = false
    if (replay) this.session.send(replay, messages)
    for (const { frame, messages, lazy } of held) {
      if (lazy) this.session.sendLazily(frame)
      else this.session.send(frame, messages)
    }
  }
}
