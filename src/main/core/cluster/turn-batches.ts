import type { Writer } from './redis'
import type { ChatLine } from './room-entry'

/**
 * A batch takes no more once its messages come to this many bytes as members get them (`MSG <room> <nick>
 * <text>` lines): a busy turn makes several entries, so one entry stays a small share of its room's stream
 * (which keeps about 2 MB, at least 100 entries), and a read of a stream (up to READ_COUNT entries, all
 * queued for a member at once) stays well under what a session may have queued before it is a slow consumer.
 */
const BATCH_BYTES = 4096
/** `MSG `, two spaces and the line's end, around the room, nick and text. */
const LINE_OVERHEAD = 7

interface Batch<T> {
  writer: Writer
  messages: ChatLine[]
  bytes: number
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
    private readonly maxBytes = BATCH_BYTES
  ) {}

  /** Adds a message to the room's batch of this turn; settles as that batch's append does. */
  add(room: string, writer: Writer, message: ChatLine): Promise<T> {
    const bytes = LINE_OVERHEAD + room.length + message.nick.length + Buffer.byteLength(message.text)
    let batch = this.open.get(room)
    // Written under another lease epoch (the node rejoined since), or full: the batch goes as it is.
    if (batch && (batch.writer.epoch !== writer.epoch || batch.bytes + bytes > this.maxBytes)) {
      this.close(room)
      batch = undefined
    }
    batch ??= this.start(room, writer)
    batch.messages.push(message)
    batch.bytes += bytes
    return batch.appended
  }

  /** Appends the room's batch now, if it has one: what the node appends there next comes after it. */
  close(room: string): void {
    const batch = this.open.get(room)
    if (!batch) return
    this.open.delete(room)
    // Whatever happens, the batch settles: its senders' steps and the backlog wait on it.
    try {
      this.append(room, batch.writer, batch.messages).then(batch.resolve, batch.reject)
    } catch (error) {
      batch.reject(error as Error)
    }
  }

  private start(room: string, writer: Writer): Batch<T> {
    let settle!: Pick<Batch<T>, 'resolve' | 'reject'>
    const appended = new Promise<T>((resolve, reject) => (settle = { resolve, reject }))
    // Seen, so never unhandled: each message's sender handles a refusal (its command is answered ERR).
    appended.catch(() => {})
    const batch: Batch<T> = { writer, messages: [], bytes: 0, appended, ...settle }
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
