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
  /**
   * A node's lease: the epoch of the node's run that holds it, with a TTL the node renews. The scripts that
   * write on a node's behalf check it, so a node whose lease ran out (and was reaped) can write nothing more.
   */
  nodeLease: (node: string) => `sb:node:${node}:lease`,
  /** A node's heartbeat (JSON, see NodeBeat) for the cluster view; it expires with the lease. */
  nodeBeat: (node: string) => `sb:node:${node}:beat`,
  /** A node's sessions: field the session id, value JSON (nick, room, remote...); for WHO-less views and reaping. */
  nodeSessions: (node: string) => `sb:node:${node}:sessions`,
  /** Commands for a node from the others (kick), read by its stream reader. */
  nodeInbox: (node: string) => `sb:node:${node}:inbox`,
  /** Held by the node that reaps a dead node, so only one does. */
  reapLock: (node: string) => `sb:node:${node}:reaping`,
  /** Names the data set the nodes registered in: a node that finds another one knows Redis lost its data since. */
  generation: 'sb:generation',
  /** Set for a while when Redis lost its data: nicks are not claimed until the nodes have re-asserted theirs. */
  settling: 'sb:settling',
  /** The streams of emptied rooms (scored by when they emptied): the oldest go first past a count. */
  emptied: 'sb:emptied',
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

/** Refuses a write of a node whose lease (KEYS[lease]) is not held by the epoch (ARGV[epoch]) any more. */
const fenced = (lease: number, epoch: number) => `
if redis.call('GET', KEYS[${lease}]) ~= ARGV[${epoch}] then return redis.error_reply('FENCED this node lost its lease') end`

/** Entries an emptied room's stream keeps until it expires (or is dropped for a newer emptied room). */
export const EMPTIED_KEEP = 20

const PRESENCE = `
local maxlen, ttl, op, field, nick = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if op == 'set' then
  redis.call('HSET', KEYS[2], field, nick)
  redis.call('PERSIST', KEYS[1])
  redis.call('ZREM', KEYS[4], KEYS[1])
elseif redis.call('HDEL', KEYS[2], field) == 0 then
  ARGV[8] = 'void'
end
local count = redis.call('HLEN', KEYS[2])
-- The size the presence limit is held against is the room's with its subject in it, as one node counts:
-- a LEFT is heard by a room that still holds the leaver.
local size = count
if op ~= 'set' then size = count + 1 end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'c', size, unpack(ARGV, 7))
if count == 0 then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', ${EMPTIED_KEEP})
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[4], redis.call('TIME')[1], KEYS[1])
end
return id
`

/**
 * Appends one presence entry and updates the room's member hash in one step, so the hash and the stream
 * never disagree, and the entry carries the room's size (`c`) for the presence limit: after a join, before
 * a leave (the leaver still in it), as one node counts.
 * A leave for a member the hash no longer has (a survivor reaped it, or it left already) keeps its place in
 * its origin's sequence as a `void` entry that says nothing: nobody hears LEFT twice.
 * KEYS: log, members, the node's lease, the emptied rooms. ARGV: maxlen, the empty room's TTL (s),
 * 'set'|'del', member field, nick, the node's lease epoch, then the entry's pairs ('k', kind, ...). An
 * emptied room's stream is trimmed to its last EMPTIED_KEEP entries, listed among the emptied rooms and
 * expires after the TTL; a join keeps it. Refused unless the node holds its lease: a node reaped while cut off
 * must not add a member back, or rename one, after the reaper's LEFT.
 * The shebang makes Redis refuse the whole script while it is out of memory (without one, a script that
 * begins with HDEL, which Redis allows then, may go on to XADD): a JOIN's LEFT must not go through when
 * its JOINED could not.
 */
export const APPEND_PRESENCE = `#!lua${fenced(3, 6)}${PRESENCE}`

/**
 * The same, for a session that is gone (closed, or reaped with its node): its LEFT goes through even while
 * Redis is out of memory, so it does not stay in the room's members for every WHO, and even from a node
 * that lost its lease (a leave after the reaper's is a `void` entry, harmless).
 */
export const APPEND_FAREWELL = `#!lua flags=allow-oom${PRESENCE}`

/**
 * Appends a `msgs` entry (a turn's messages to one room), unless the node lost its lease: a node cut off
 * from Redis that comes back late finds its buffered messages refused by Redis itself, so none is ever
 * delivered after its sender's LEFT. Returns the entry's ID.
 * KEYS: log, the node's lease. ARGV: maxlen, the lease epoch, then the entry's fields.
 */
export const APPEND_MESSAGES = `#!lua${fenced(2, 2)}
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
`

/**
 * Claims a nick for a session (or finds it already its own): 1, or 0 if another holds it. Refused while
 * the node lost its lease, and while the nodes re-assert their nicks after Redis lost its data (settling).
 * KEYS: nick, the node's lease, settling. ARGV: owner, TTL (s), the lease epoch.
 */
export const CLAIM_NICK = `#!lua${fenced(2, 3)}
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('TRYAGAIN the nodes are registering again what Redis lost')
end
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return 1 end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`

/** Holds a nick again after Redis lost it: 1 if it is (again) the owner's, 0 if another holds it. KEYS: nick. ARGV: owner, TTL (s). */
export const REASSERT_NICK = `#!lua flags=allow-oom
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`

/**
 * Takes a node id's lease for an epoch and lists the node: refused (0) while another run of the id holds
 * it; this run's own lapsed or lost lease is taken over. Returns the data set's generation, creating it on
 * an empty Redis. A node that registers again ('restore') must find a generation other than the one it
 * joined, which says Redis lost its data: then it opens the settling window, so no nick is claimed before
 * the nodes have re-asserted theirs. Under the same generation the lease went some other way (evicted,
 * deleted): that is refused (-1), and the node fences and rejoins, as a reaper may have taken it.
 * KEYS: lease, nodes, generation, settling. ARGV: epoch, TTL (ms), this run's epoch prefix, node id, the
 * generation it knows ('' if none), a new generation, the settling time (ms), 'join'|'restore'.
 */
export const ACQUIRE_LEASE = `#!lua flags=allow-oom
if ARGV[8] == 'restore' and redis.call('GET', KEYS[3]) == ARGV[5] then return -1 end
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] and string.sub(held, 1, #ARGV[3]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], ARGV[6], 'NX')
local generation = redis.call('GET', KEYS[3])
if ARGV[8] == 'restore' and generation ~= ARGV[5] then redis.call('SET', KEYS[4], '1', 'PX', ARGV[7], 'NX') end
return generation
`

/**
 * Renews a node's lease and heartbeat, if it still holds the lease: 1, else 0. KEYS: lease, beat. ARGV:
 * epoch, TTL (ms), the beat. Like the other lease scripts it runs even while Redis refuses writes for want
 * of memory: a full Redis must not fence every node, only refuse what would grow it.
 */
export const RENEW_LEASE = `#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
return 1
`

/** Raises a counter to at least a value (never lowers it). KEYS: counter. ARGV: value. */
export const RAISE_TO = `
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`

/** Sets a lock key (NX, PX) even while Redis refuses writes for want of memory: reaping frees memory. KEYS: lock. ARGV: owner, ms. */
export const TAKE_LOCK = `#!lua flags=allow-oom
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') and 1 or 0
`

/** Deletes a key only if it still holds the given value: a nick is released only by its holder. KEYS: key. ARGV: value. */
export const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * Forgets a reaped node: its session records and the reaping lock, and its listing unless it took a new
 * lease meanwhile (it rejoined: it stays listed). KEYS: sessions, lock, nodes, lease. ARGV: node id.
 */
export const FORGET_NODE = `
redis.call('DEL', KEYS[1], KEYS[2])
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
return 0
`

/**
 * Drops an emptied room's stream before its TTL (too many rooms emptied since), unless it has members
 * again. KEYS: log, members.
 */
export const DROP_IF_EMPTY = `
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('DEL', KEYS[1]) end
return 0
`
