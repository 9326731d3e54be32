/**
 * The line protocol's client commands, parsed from one line's bytes. Pure: this runs in the
 * worker threads, so it sees no session state; checks that need state (is the nick taken?)
 * happen when the command is committed on the I/O thread.
 */
import type { DecodeErrorCode } from '../codec'

/** The codes of `ERR <code> <text>`; a decoder's codes (line-too-long, ...) are among them. */
export type ErrorCode =
  | DecodeErrorCode
  | 'unknown-command'
  | 'bad-argument'
  | 'bad-encoding'
  | 'nick-taken'
  | 'server-full'
  | 'idle-timeout'
  | 'partial-timeout'
  | 'rate-limited'
  | 'unavailable'
  | 'history-gone'
  | 'auth-required'
  | 'auth-failed'
  | 'internal'

export type Command =
  /** Logs in (a server started with users): the password is the rest of the line, spaces and all. */
  | { verb: 'AUTH'; user: string; password: string }
  | { verb: 'NICK'; name: string }
  | { verb: 'JOIN'; room: string }
  | { verb: 'CHAT'; text: string }
  | { verb: 'WHO' }
  | { verb: 'PING'; token: string }
  | { verb: 'QUIT'; reason: string }
  | { verb: 'HELP' }
  /** `CAP ids`: from now on every MSG to this session carries its id (`@id=<id> MSG ...`). */
  | { verb: 'CAP'; cap: 'ids' }
  /** The last `count` messages of the session's room. */
  | { verb: 'HISTORY'; count: number }
  /** Joins `room`, first replaying every message of it after `id`. */
  | { verb: 'RESUME'; room: string; id: string }
  /** An empty line: nothing to do, nothing to answer. */
  | { verb: 'NOOP' }
  /** The line was refused; the session gets `ERR code text` and goes on. */
  | { verb: 'ERR'; code: ErrorCode; text: string }

/** Every verb a client may send, with its arguments: HELP's answer, so it cannot drift from the parser below. */
export const VERB_USAGE = [
  'AUTH <user> <password>',
  'NICK <name>',
  'JOIN <room>',
  'CHAT <text>',
  'WHO',
  'PING [token]',
  'QUIT [reason]',
  'HELP',
  'CAP ids',
  'HISTORY <n>',
  'RESUME <room> <id>'
]

/** The most messages one HISTORY asks for. */
export const MAX_HISTORY = 1000

/** A message id as the server writes them (opaque to clients): short, no spaces. */
export const MESSAGE_ID_PATTERN = /^[0-9a-z.-]{1,64}$/

export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/

/** guest-<n> names are held back for the sessions that will be given them. */
export const GUEST_NICK = /^guest-[0-9]+$/i

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function refuse(code: ErrorCode, text: string): Command {
  return { verb: 'ERR', code, text }
}

function parseName(verb: 'NICK' | 'JOIN', arg: string): Command {
  if (!NAME_PATTERN.test(arg)) {
    return refuse('bad-argument', `${verb} takes one name of 1-32 characters A-Z a-z 0-9 _ -`)
  }
  return verb === 'NICK' ? { verb, name: arg } : { verb, room: arg }
}

export function parseCommand(line: Uint8Array): Command {
  let text: string
  try {
    text = utf8.decode(line)
  } catch {
    return refuse('bad-encoding', 'line is not valid UTF-8')
  }
  // The line codec drops one "\r" before the "\n"; one left over would, relayed at the end of a text,
  // be read by every receiver as part of "\r\n" and lost. Refused anywhere, so the rule stays one rule.
  if (text.includes('\r')) return refuse('bad-argument', 'a line may hold \\r only right before its \\n')
  if (text.length === 0) return { verb: 'NOOP' }
  const space = text.indexOf(' ')
  const verb = (space === -1 ? text : text.slice(0, space)).toUpperCase()
  const arg = space === -1 ? '' : text.slice(space + 1)
  switch (verb) {
    case 'NICK':
    case 'JOIN':
      return parseName(verb, arg)
    case 'AUTH': {
      const gap = arg.indexOf(' ')
      const user = arg.slice(0, gap)
      return gap > 0 && NAME_PATTERN.test(user) && gap < arg.length - 1
        ? { verb, user, password: arg.slice(gap + 1) }
        : refuse('bad-argument', 'AUTH takes a user name and a password')
    }
    case 'CHAT':
      return arg.length > 0 ? { verb, text: arg } : refuse('bad-argument', 'CHAT needs some text')
    case 'WHO':
    case 'HELP':
      return arg.length === 0 ? { verb } : refuse('bad-argument', `${verb} takes no argument`)
    case 'PING':
      return { verb, token: arg }
    case 'QUIT':
      return { verb, reason: arg }
    case 'CAP':
      return arg.toLowerCase() === 'ids' ? { verb, cap: 'ids' } : refuse('bad-argument', 'CAP takes ids')
    case 'HISTORY': {
      const count = Number(arg)
      return /^[0-9]{1,4}$/.test(arg) && count >= 1 && count <= MAX_HISTORY
        ? { verb, count }
        : refuse('bad-argument', `HISTORY takes a count from 1 to ${MAX_HISTORY}`)
    }
    case 'RESUME': {
      const [room, id, extra] = arg.split(' ')
      return NAME_PATTERN.test(room) && id !== undefined && MESSAGE_ID_PATTERN.test(id) && extra === undefined
        ? { verb, room, id }
        : refuse('bad-argument', 'RESUME takes a room and the id of the last message seen')
    }
    default:
      return refuse('unknown-command', `unknown command ${JSON.stringify(verb.slice(0, 32))}`)
  }
}
