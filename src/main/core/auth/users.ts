import { readFileSync } from 'node:fs'
import { GUEST_NICK, NAME_PATTERN } from '../protocol/commands'
import { parseHash, type PasswordHash } from './password'

/**
 * A users file: `<name> <scrypt hash>` per line (as `switchboard user add` writes them), `#` comments and
 * blank lines aside. Names are nicks too, so they follow the nick rules and differ in more than case.
 */
export interface User {
  /** As the file spells it: the nick a session that logs in as this user is given. */
  name: string
  hash: PasswordHash
}

/** By lower-cased name: AUTH takes a name in any case, as nicks are unique in any case. */
export type Users = ReadonlyMap<string, User>

/** A line of the file: an entry's, keyed by its lower-cased name, or a comment's or blank line's (key null). */
type Line = { key: string | null; text: string; user?: User }

function splitLines(text: string, file: string): Line[] {
  const seen = new Set<string>()
  return text.split('\n').map((raw, index) => {
    const line = raw.replace(/\r$/, '')
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return { key: null, text: line }
    const where = `${file} line ${index + 1}`
    const [name, hash, extra] = trimmed.split(/\s+/)
    if (!NAME_PATTERN.test(name)) throw new Error(`${where}: a user name is 1-32 characters A-Z a-z 0-9 _ -`)
    if (GUEST_NICK.test(name)) throw new Error(`${where}: guest-<n> names are the server's to give`)
    if (hash === undefined || extra !== undefined) throw new Error(`${where}: expected "<name> <scrypt hash>"`)
    let parsed: PasswordHash
    try {
      parsed = parseHash(hash)
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`)
    }
    const key = name.toLowerCase()
    if (seen.has(key)) throw new Error(`${where}: user ${name} is already in the file (names differ in more than case)`)
    seen.add(key)
    return { key, text: line, user: { name, hash: parsed } }
  })
}

/** The users of a file's text; throws naming the file and line of the first entry that is wrong. */
export function parseUsers(text: string, file: string): Users {
  return new Map(splitLines(text, file).flatMap(({ key, user }) => (key === null ? [] : [[key, user!] as const])))
}

export function readUsers(file: string): Users {
  return parseUsers(readFileSync(file, 'utf8'), file)
}

/** The file's text with `name`'s entry set to `hash`: its line replaced in place, or a new line at the end. */
export function withUser(text: string, file: string, name: string, hash: string): string {
  const entry = `${name} ${hash}`
  const lines = splitLines(text, file)
  const key = name.toLowerCase()
  const at = lines.findIndex((line) => line.key === key)
  if (at >= 0) lines[at] = { key, text: entry }
  else {
    // Before the blank lines a file ends with, so it keeps ending with one newline.
    while (lines.length > 0 && lines[lines.length - 1].text === '') lines.pop()
    lines.push({ key, text: entry }, { key: null, text: '' })
  }
  return lines.map((line) => line.text).join('\n')
}

/** The file's text without `name`'s entry. */
export function withoutUser(text: string, file: string, name: string): string {
  const key = name.toLowerCase()
  return splitLines(text, file)
    .filter((line) => line.key !== key)
    .map((line) => line.text)
    .join('\n')
}
