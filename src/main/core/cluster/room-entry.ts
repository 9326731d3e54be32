import type { HistoryEntry } from '../server/room-history'
import { messageId } from './stream-id'
import type { StreamEntry } from './stream-reader'

/**
 * One entry of a room's stream. Every field is plain text; the entry's ID (Redis's) is its place in the order.
 * - origin: the appending node's run (`<node>.<random>`, new at every start), and seq: that run's count of
 *   entries in this room. Together they let a reader drop an entry appended twice (a command resent after a
 *   reconnect) and notice entries trimmed away before it read them (a jump in seq).
 * - msgs: the messages a node took for the room in one turn, in order, as `<nick> <text>` lines (a nick has
 *   no space, a text no line break). One entry for many messages: every node reads and decodes every entry
 *   of its rooms, so a busy room costs Redis and each reader per turn of each node, not per message.
 * - subject (presence): whom it is about, `<run>/<session>` (a node recognises its own joiner by it; a dead
 *   node's sessions, reaped by a survivor, are `<node>/<session>`), and nick: the subject's nick.
 * - at (JOINED, LEFT): when the node took the change (ms, its clock); far before the entry's ID time, it
 *   waited out an outage, and readers coalesce it (RoomFeed). Null in entries of older versions.
 */
export type RoomEntry =
  | (Numbered & { kind: 'msgs'; messages: ChatLine[] })
  | (Presence & { kind: 'joined' | 'left'; count: number; at: number | null })
  | (Presence & { kind: 'nick'; previous: string; count: number })
  /** A leave the append script found already done: it only keeps its origin's sequence whole. */
  | (Presence & { kind: 'void'; count: number })

/** One message of a `msgs` entry: who said what. */
export interface ChatLine {
  nick: string
  text: string
}

interface Numbered {
  origin: string
  seq: number
}

interface Presence extends Numbered {
  subject: string
  nick: string
}

/** What a node appends: the entry without the room's size, which the append script adds. */
export type NewEntry =
  | Extract<RoomEntry, { kind: 'msgs' }>
  | (Omit<Extract<RoomEntry, { kind: 'joined' | 'left' }>, 'count' | 'at'> & { at: number })
  | Omit<Extract<RoomEntry, { kind: 'nick' }>, 'count'>

/** Field/value pairs for XADD. */
export function entryFields(entry: NewEntry): string[] {
  const fields = ['k', entry.kind, 'o', entry.origin, 'q', String(entry.seq)]
  if (entry.kind === 'msgs') {
    fields.push('m', entry.messages.map(({ nick, text }) => `${nick} ${text}`).join('\n'))
    return fields
  }
  fields.push('s', entry.subject, 'n', entry.nick)
  if (entry.kind === 'nick') fields.push('p', entry.previous)
  if (entry.kind === 'joined' || entry.kind === 'left') fields.push('w', String(entry.at))
  return fields
}

/**
 * An entry as XREAD returns it; null for one this version does not know (written by a newer node, or by
 * hand). Read field by field, without a map: every node reads every entry of its rooms.
 */
export function parseEntry(fields: string[]): RoomEntry | null {
  let kind, origin, nick, subject, lines, previous, seqText, countText, atText
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]
    switch (fields[i]) {
      case 'k': kind = value; break
      case 'o': origin = value; break
      case 'q': seqText = value; break
      case 's': subject = value; break
      case 'n': nick = value; break
      case 'm': lines = value; break
      case 'p': previous = value; break
      case 'c': countText = value; break
      case 'w': atText = value; break
    }
  }
  const seq = Number(seqText)
  if (origin === undefined || !Number.isSafeInteger(seq)) return null
  if (kind === 'msgs') {
    const messages = lines === undefined ? null : parseChatLines(lines)
    return messages && { origin, seq, kind, messages }
  }
  if (subject === undefined || nick === undefined) return null
  const base = { origin, seq, subject, nick }
  const count = Number(countText)
  switch (kind) {
    case 'joined':
    case 'left': {
      const at = atText === undefined ? null : Number(atText)
      return Number.isSafeInteger(count) && (at === null || Number.isSafeInteger(at)) ? { ...base, kind, count, at } : null
    }
    case 'void':
      return Number.isSafeInteger(count) ? { ...base, kind, count } : null
    case 'nick':
      return previous === undefined || !Number.isSafeInteger(count) ? null : { ...base, kind, previous, count }
    default:
      return null
  }
}

/** The `<nick> <text>` lines of a msgs entry; null if one has no nick, or no space after it. */
function parseChatLines(lines: string): ChatLine[] | null {
  const messages: ChatLine[] = []
  for (const line of lines.split('\n')) {
    const space = line.indexOf(' ')
    if (space < 1) return null
    messages.push({ nick: line.slice(0, space), text: line.slice(space + 1) })
  }
  return messages
}

/**
 * The messages of a stream's entries (oldest first) as history, each with its id; with `after`, those up to
 * that one left out (the rest of its entry are kept).
 */
export function messagesOf(entries: StreamEntry[], after: { entry: string; index: number } | null): HistoryEntry[] {
  const messages: HistoryEntry[] = []
  for (const [id, fields] of entries) {
    const entry = parseEntry(fields)
    if (entry?.kind !== 'msgs') continue
    const skip = after?.entry === id ? after.index + 1 : 0
    for (let i = skip; i < entry.messages.length; i++) messages.push({ id: messageId(id, i), ...entry.messages[i] })
  }
  return messages
}
