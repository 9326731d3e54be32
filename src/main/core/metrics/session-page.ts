import type { SessionMetrics, SessionPage, SessionQuery, SessionSort } from '../../../shared/telemetry'
import type { Session } from '../server/session'

/** What a page shows of a session besides its own figures: its chat state, from the listener's protocol. */
export type Describe = (session: Session) => Pick<SessionMetrics, 'nick' | 'room'>

/** Each order, as a number to sort descending by: the first rows are the ones a viewer looks for. */
const SORT_KEY: Record<SessionSort, (session: Session, now: number) => number> = {
  pending: (session) => session.queuedBytes,
  rate: (session) => session.msgsInPerSec,
  idle: (session, now) => session.idleMs(now),
  // Oldest first.
  age: (session) => -session.connectedAt
}

export function sessionRow(session: Session, describe: Describe, now: number): SessionMetrics {
  return { ...session.metrics(now), ...describe(session) }
}

/**
 * One viewer's page: filtered, sorted and cut by the server, so a viewer of 10,000 sessions is sent 100.
 * Only the page's rows are built; the rest is one number per session to sort by (ties by id, so a page is stable).
 */
export function sessionPage(sessions: Iterable<Session>, describe: Describe, query: SessionQuery, now: number): SessionPage {
  const needle = query.filter.trim().toLowerCase()
  const all = [...sessions]
  const kept = needle === '' ? all : all.filter((session) => matches(session, describe(session), needle))
  const key = SORT_KEY[query.sort]
  const first = leading(
    kept.map((session) => ({ session, key: key(session, now) })),
    query.offset + query.limit
  )
  const rows = first.slice(query.offset, query.offset + query.limit).map(({ session }) => sessionRow(session, describe, now))
  return { query, at: Date.now(), matched: kept.length, total: all.length, rows }
}

/** A session and the figure it is ordered by: most first, ties by id. */
export type Keyed = { session: Session; key: number }

const before = (a: Keyed, b: Keyed): boolean => a.key > b.key || (a.key === b.key && a.session.id < b.session.id)

/**
 * The first `count` in order, without sorting them all: a page of 100 out of 10,000 is one pass that keeps
 * the best 100 so far (most sessions fall behind the last of them at one comparison).
 */
export function leading(keyed: Keyed[], count: number): Keyed[] {
  if (count >= keyed.length / 4) return keyed.sort((a, b) => (before(a, b) ? -1 : 1))
  const best: Keyed[] = []
  for (const item of keyed) {
    if (best.length === count && !before(item, best[count - 1])) continue
    let low = 0
    let high = best.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (before(best[middle], item)) low = middle + 1
      else high = middle
    }
    best.splice(low, 0, item)
    if (best.length > count) best.pop()
  }
  return best
}

function matches(session: Session, { nick, room }: Pick<SessionMetrics, 'nick' | 'room'>, needle: string): boolean {
  return [nick, room, session.user, session.remote].some((text) => text !== null && text.toLowerCase().includes(needle))
}
