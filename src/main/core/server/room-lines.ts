import { lineCodec } from '../codec/line'
import { reply } from '../protocol/replies'
import type { Session } from './session'

/**
 * Rooms up to this size get presence at once: a write per member per arrival costs little there, and
 * (measured) delaying it cost a 200-member broadcast 5-10 % of its deliveries/s.
 */
const LAZY_PRESENCE = 256

/** What room lines are written to: a session, or in a test anything that takes frames. */
export type Listener = Pick<Session, 'send' | 'sendLazily'>

/**
 * Presence (JOINED, LEFT, NICK) goes to the whole room while it is small; in a large room it would be
 * N² lines as a crowd comes and goes, so there (past `presenceLimit` members) it goes only to the session
 * concerned. In between, past LAZY_PRESENCE members, the others get it lazily: a crowd arriving is a line
 * to every member per arrival, written a turn at a time that is a write to every socket per arrival (and
 * Node accepts one connection per turn); gathered for a few ms it is one write per socket for many arrivals.
 * `size` is the room's size (in a cluster, on every node); `subject` is null when it is not one of `members`.
 * The subject may be told a line of its own (its JOINED with its place in the room's messages, `CAP ids`).
 */
export function announce(members: Iterable<Listener>, size: number, subject: Listener | null, line: string, presenceLimit: number, subjectLine = line): void {
  const frame = lineCodec.encode(line)
  const subjectFrame = subjectLine === line ? frame : lineCodec.encode(subjectLine)
  if (size > presenceLimit) {
    subject?.send(subjectFrame)
    return
  }
  for (const member of members) {
    if (member === subject) member.send(subjectFrame)
    else if (size <= LAZY_PRESENCE) member.send(frame)
    else member.sendLazily(frame)
  }
}

/** WHO's answer: the nicks in USERS pages that each fit the line limit, then USERS-END with the count. */
export function whoPages(room: string, nicks: Iterable<string>, maxLineBytes: number): Buffer[] {
  const pages: Buffer[] = []
  const prefix = reply.users(room, [])
  let page: string[] = []
  let length = prefix.length
  let count = 0
  for (const nick of nicks) {
    if (page.length > 0 && length + 1 + nick.length > maxLineBytes) {
      pages.push(lineCodec.encode(reply.users(room, page)))
      page = []
      length = prefix.length
    }
    page.push(nick)
    length += 1 + nick.length
    count++
  }
  if (page.length > 0) pages.push(lineCodec.encode(reply.users(room, page)))
  pages.push(lineCodec.encode(reply.usersEnd(room, count)))
  return pages
}
