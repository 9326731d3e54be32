import type { Writer } from './redis'
import type { ChatLine } from './room-entry'

/**
 * A batch takes no more once its messages hold this many characters: a busy turn makes several entries, so
 * one entry stays a small share of its room's stream (which keeps about 2 MB, at least 100 entries).
 */
const BATCH_CHARS = 16_000

interface Batch<T> {
  writer: Writer
  messages: ChatLine[]
  chars: number
  appended: Promise<T>
  resolve(appended: T): void
  reject(error: Error): void
}

/**
 * The messages a node takes in one turn, gathered per room and appended at the turn's end as one entry per
 * room (RoomEntry `msgs`): every node reads and decodes every entry of its rooms, and frames each entry once
 * for all its members, so a busy room costs Redis, the readers and the members' sockets per turn, not per
 * message. Whatever else the node appends to a room must first `close` the room's batch, so the room's
 * stream holds the node's entries in the order it took them.
 */
export class TurnBatches<T> {
  private readonly open = new Map<string, Batch<T>>()
  private scheduled = false

  constructor(
    /** Appends a batch's messages to the room as one entry (now: the entry's place is taken when it is called). */
    private readonly append: (room: string, writer: Writer, messages: ChatLine[]) => Promise<T>,
    private readonly maxChars = BATCH_CHARS
  ) {}

  /** Adds a message to the room's batch of this turn; settles as that batch's append does. */
  add(room: string, writer: Writer, message: ChatLine): Promise<T> {
    const chars = message.nick.length + message.text.length + 2
    let batch = this.open.get(room)
    // Written under another lease epoch (the node rejoined since), or full: the batch goes as it is.
    if (batch && (batch.writer.epoch !== writer.epoch || batch.chars + chars > this.maxChars)) {
      this.close(room)
      batch = undefined
    }
    batch ??= this.start(room, writer)
    batch.messages.push(message)
    batch.chars += chars
    return batch.appended
  }

  /** Appends the room's batch now, if it has one: what the node appends there next comes after it. */
  close(room: string): void {
    const batch = this.open.get(room)
    if (!batch) return
    this.open.delete(room)
    this.append(room, batch.writer, batch.messages).then(batch.resolve, batch.reject)
  }

  private start(room: string, writer: Writer): Batch<T> {
    let settle!: Pick<Batch<T>, 'resolve' | 'reject'>
    const appended = new Promise<T>((resolve, reject) => (settle = { resolve, reject }))
    // Seen, so never unhandled: each message's sender handles a refusal (its command is answered ERR).
    appended.catch(() => {})
    const batch: Batch<T> = { writer, messages: [], chars: 0, appended, ...settle }
    this.open.set(room, batch)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.closeAll)
    }
    return batch
  }

  private readonly closeAll = (): void => {
    this.scheduled = false
    for (const room of [...this.open.keys()]) this.close(room)
  }
}
