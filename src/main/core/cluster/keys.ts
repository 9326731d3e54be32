/**
 * Every Redis key the cluster uses, named in one place. A room's keys share the `{room}` hash tag, so in
 * Redis Cluster a room's stream and member hash live in one slot and one script may touch both.
 */
export const keys = {
  /** The room's stream: messages and presence, in the one order every member sees. */
  roomLog: (room: string) => `sb:{${room}}:log`,
  /** The room whose stream `key` is (the inverse of roomLog). */
  roomOfLog: (key: string) => key.slice('sb:{'.length, -'}:log'.length),
  /** Who is in the room: field `<node>/<session>`, value the nick. WHO reads it. */
  roomMembers: (room: string) => `sb:{${room}}:members`,
  /** Which session holds a nick (lower-cased): `<node>/<session>`, with a TTL its node renews. */
  nick: (nick: string) => `sb:nick:${nick.toLowerCase()}`,
  /** Every node that has joined and not been reaped. */
  nodes: 'sb:nodes',
  /** A node's heartbeat (JSON, see NodeBeat); it expires when the node stops renewing it. */
  nodeBeat: (node: string) => `sb:node:${node}:beat`,
  /** A node's sessions: field the session id, value JSON (nick, room, remote...); for WHO-less views and reaping. */
  nodeSessions: (node: string) => `sb:node:${node}:sessions`,
  /** Commands for a node from the others (kick), read by its stream reader. */
  nodeInbox: (node: string) => `sb:node:${node}:inbox`,
  /** Held by the node that reaps a dead node, so only one does. */
  reapLock: (node: string) => `sb:node:${node}:reaping`,
  /** Left by the reaper: the node was taken for dead (not lost with Redis's data), so its sessions are gone. */
  reaped: (node: string) => `sb:node:${node}:reaped`,
  /** Guest numbers, handed out in blocks: guest-<n> is unique cluster-wide. */
  guestSeq: 'sb:guest-seq'
}

/** The member field of a session in a room's member hash and a nick key's value. */
export const memberOf = (node: string, sessionId: number): string => `${node}/${sessionId}`

/**
 * An empty room's stream is kept this long (seconds) by default, then expires: long enough for a reader that
 * fell behind, or a member coming back, short enough that rooms nobody uses do not pile up (`--room-ttl`).
 */
export const EMPTY_ROOM_TTL_S = 60

const PRESENCE = `
local maxlen, ttl, op, field, nick = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if op == 'set' then
  redis.call('HSET', KEYS[2], field, nick)
  redis.call('PERSIST', KEYS[1])
elseif redis.call('HDEL', KEYS[2], field) == 0 then
  ARGV[7] = 'void'
end
local count = redis.call('HLEN', KEYS[2])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'c', count, unpack(ARGV, 6))
if count == 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return id
`

/**
 * Appends one presence entry and updates the room's member hash in one step, so the hash and the stream
 * never disagree, and the entry carries the room's size after the change (`c`) for the presence limit.
 * A leave for a member the hash no longer has (a survivor reaped it, or it left already) keeps its place in
 * its origin's sequence as a `void` entry that says nothing: nobody hears LEFT twice.
 * KEYS: log, members. ARGV: maxlen, the empty room's TTL (s), 'set'|'del', member field, nick, then the
 * entry's pairs ('k', kind, ...). An emptied room's stream expires after the TTL; a join keeps it.
 * The shebang makes Redis refuse the whole script while it is out of memory (without one, a script that
 * begins with HDEL, which Redis allows then, may go on to XADD): a JOIN's LEFT must not go through when
 * its JOINED could not.
 */
export const APPEND_PRESENCE = `#!lua${PRESENCE}`

/**
 * The same, for a session that is gone (closed, or reaped with its node): its LEFT goes through even while
 * Redis is out of memory, so it does not stay in the room's members for every WHO.
 */
export const APPEND_FAREWELL = `#!lua flags=allow-oom${PRESENCE}`

/** Raises a counter to at least a value (never lowers it). KEYS: counter. ARGV: value. */
export const RAISE_TO = `
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`

/** Deletes a key only if it still holds the given value: a nick is released only by its holder. KEYS: key. ARGV: value. */
export const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
