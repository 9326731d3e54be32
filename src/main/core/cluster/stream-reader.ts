import type { Redis } from 'ioredis'
import { compareIds } from './stream-id'

export type StreamEntry = [id: string, fields: string[]]

/**
 * Entries per stream per read: enough to drain a burst in few round trips, few enough to keep a turn short,
 * and a read's messages (up to 4 KB an entry, see TurnBatches) far below a member's output limit.
 */
const READ_COUNT = 100
/**
 * The read blocks this long at most. A change to the streams read unblocks it at once (CLIENT UNBLOCK);
 * this only bounds the rare race where the unblock reaches Redis before the read it was meant for.
 */
export const BLOCK_MS = 5000
const RETRY_MS = 100

/**
 * Reads a changing set of streams with one blocking XREAD on a connection of its own, each from the last
 * ID it delivered: after a reconnect it goes on from there, never from `$`, so nothing is lost or read twice.
 * Watching a new stream unblocks the read that is waiting (from the command connection) instead of waiting
 * for it to time out.
 */
export class StreamReader {
  private readonly positions = new Map<string, string>()
  /** This connection's CLIENT ID, which CLIENT UNBLOCK needs; asked again after every reconnect. */
  private clientId: number | null = null
  private blocked = false
  /** The set of streams changed since the read now waiting began. */
  private changed = false
  private wake: (() => void) | null = null
  /** Fails the read now waiting: ioredis, told not to resend it, drops it without settling it when the connection goes. */
  private abandon: ((error: Error) => void) | null = null
  private running = true
  private readonly loop: Promise<void>

  constructor(
    private readonly connection: Redis,
    private readonly commands: Redis,
    private readonly deliver: (key: string, entries: StreamEntry[]) => void,
    private readonly onError: (error: Error) => void
  ) {
    connection.on('ready', () => (this.clientId = null))
    connection.on('close', () => this.abandon?.(new Error('connection to Redis lost')))
    this.loop = this.run()
  }

  /** Reads `key` from just after `after`; a stream already read goes on from where it is. */
  watch(key: string, after: string): void {
    if (this.positions.has(key)) return
    this.positions.set(key, after)
    this.interrupt()
  }

  /** Stops delivering `key`; the read waiting now may still return some, which are dropped. */
  unwatch(key: string): void {
    this.positions.delete(key)
  }

  async close(): Promise<void> {
    this.running = false
    this.interrupt()
    this.connection.disconnect()
    await this.loop
  }

  private async run(): Promise<void> {
    while (this.running) {
      // Nothing to read, or no connection to read on: a read queued offline would be sent late, after newer ones.
      if (this.positions.size === 0 || this.connection.status !== 'ready') {
        await new Promise<void>((resolve) => {
          const go = () => {
            this.connection.off('ready', go)
            this.wake = null
            resolve()
          }
          this.wake = go
          this.connection.once('ready', go)
        })
        continue
      }
      try {
        this.clientId ??= await this.connection.client('ID')
        const streams = [...this.positions]
        this.changed = false
        this.blocked = true
        const read = this.connection.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...streams.map(([key]) => key), ...streams.map(([, id]) => id))
        // Abandoned below when the connection goes, it is refused later by the disconnect: seen, not unhandled.
        read.catch(() => {})
        const reply = await Promise.race([read, new Promise<never>((_, reject) => (this.abandon = reject))])
        this.abandon = null
        this.blocked = false
        for (const [key, entries] of reply ?? []) this.take(key, entries)
      } catch (error) {
        this.abandon = null
        this.blocked = false
        if (!this.running) break
        // A lost connection is the connection's news (logged by its owner); the loop waits for it to come back.
        if (this.connection.status === 'ready') {
          this.onError(error as Error)
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
        }
      }
    }
  }

  private take(key: string, entries: StreamEntry[]): void {
    const position = this.positions.get(key)
    if (position === undefined) return
    // A stream unwatched and watched again from later while this read waited: drop what precedes the new start.
    const fresh = compareIds(entries[0][0], position) > 0 ? entries : entries.filter(([id]) => compareIds(id, position) > 0)
    if (fresh.length === 0) return
    this.positions.set(key, fresh[fresh.length - 1][0])
    this.deliver(key, fresh)
  }

  private interrupt(): void {
    this.changed = true
    if (this.wake) return this.wake()
    if (!this.blocked || this.clientId === null) return
    this.commands.client('UNBLOCK', this.clientId).then(
      // 0: the read had not reached Redis yet; try again shortly, unless a new read already took the change.
      (unblocked) => unblocked === 0 && this.blocked && this.changed && setTimeout(() => this.changed && this.interrupt(), 2),
      () => {}
    )
  }
}
