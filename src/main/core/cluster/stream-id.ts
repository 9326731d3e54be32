/**
 * Redis stream IDs, `<ms>-<seq>`: ordered by time, then by sequence within a millisecond. Compared as
 * numbers, not strings ("9-0" < "10-0"); ms fits a double for 285,000 years, seq is bounded per ms in practice.
 */
function parts(id: string): [number, number] {
  const dash = id.indexOf('-')
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))]
}

export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = parts(a)
  const [bMs, bSeq] = parts(b)
  return aMs - bMs || aSeq - bSeq
}

/** The ID just before `id`: XREAD from it returns `id` first. */
export function idBefore(id: string): string {
  const [ms, seq] = parts(id)
  if (seq > 0) return `${ms}-${seq - 1}`
  return ms > 0 ? `${ms - 1}-18446744073709551615` : '0-0'
}

/** The time Redis gave the entry, in ms since the epoch (Redis's clock, not ours). */
export function idTime(id: string): number {
  return parts(id)[0]
}

/**
 * A message's id in a cluster: its entry's stream ID and its place among the entry's messages,
 * `<ms>-<seq>.<index>`. The stream is the room's on every node, so an id means the same message on any of them.
 */
export function messageId(entryId: string, index: number): string {
  return `${entryId}.${index}`
}

/** Past the messages of any entry (a 4 KB entry holds about 2,000 at most): a position id names all of its entry. */
const LAST_INDEX = 999_999

/**
 * A place in a room's stream rather than a message: after every message of `entryId` (a JOINED's place, or
 * the last entry a session was delivered). A resume from it replays what came after that entry.
 */
export function positionAfter(entryId: string): string {
  return messageId(entryId, LAST_INDEX)
}

/** Where a message id points; null for one no stream of ours gives (another server's, a forgery). */
export function parseMessageId(id: string): { entry: string; index: number } | null {
  const match = /^([0-9]{1,15}-[0-9]{1,15})\.([0-9]{1,6})$/.exec(id)
  return match && { entry: match[1], index: Number(match[2]) }
}
