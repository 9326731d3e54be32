import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { hashPassword } from '../core/auth/password'
import { parseUsers, withoutUser, withUser } from '../core/auth/users'
import { NAME_PATTERN } from '../core/protocol/commands'
import { UsageError } from './flags'

export const USER_USAGE = `usage: switchboard user add FILE NAME
       switchboard user remove FILE NAME
  add      sets NAME's password in the users file FILE (made if missing, readable by its owner only): typed at
           a prompt that does not show it, or the first line of standard input (printf '%s\\n' "$PW" | ...),
           so it stays out of the shell's history and the process list; kept as an scrypt hash
  remove   takes NAME out of FILE
  A server given --users FILE reads it at start and again on SIGHUP; sessions already logged in stay.`

export interface UserArgs {
  action: 'add' | 'remove'
  file: string
  name: string
}

export function parseUserArgs(argv: string[]): UserArgs {
  const [action, file, name, ...extra] = argv
  if ((action !== 'add' && action !== 'remove') || file === undefined || name === undefined || extra.length > 0) {
    throw new UsageError('expected: user add|remove FILE NAME')
  }
  if (!NAME_PATTERN.test(name)) throw new UsageError(`a user name is 1-32 characters A-Z a-z 0-9 _ -, not "${name}"`)
  return { action, file, name }
}

export async function user({ action, file, name }: UserArgs, readPassword = passwordFromStdin): Promise<number> {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : ''
  // A file that is wrong is said so before anything is asked: nothing is written over it.
  const known = parseUsers(before, file).has(name.toLowerCase())
  if (action === 'remove') {
    if (!known) throw new Error(`${file} has no user ${name}`)
    save(file, withoutUser(before, file, name))
    console.log(`switchboard: user ${name} removed from ${file}`)
    return 0
  }
  const password = await readPassword(`password for ${name}: `)
  if (password.length === 0) throw new Error('an empty password is no password')
  save(file, withUser(before, file, name, hashPassword(password)))
  console.log(`switchboard: ${known ? 'password of' : 'user'} ${name} ${known ? 'changed' : 'added'} in ${file}`)
  return 0
}

/** Written whole, then renamed over the old file: a server reading it on SIGHUP never sees half of it. */
function save(file: string, text: string): void {
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, text, { mode })
  renameSync(temporary, file)
  if ((mode & 0o077) !== 0) console.log(`switchboard: warning: ${file} can be read by others than its owner (chmod 600 ${file})`)
}

/** The password: typed without echo at a terminal, else the first line of standard input. */
async function passwordFromStdin(prompt: string): Promise<string> {
  const input = process.stdin
  if (!input.isTTY) {
    let text = ''
    for await (const chunk of input) text += String(chunk)
    return text.split('\n')[0].replace(/\r$/, '')
  }
  process.stderr.write(prompt)
  input.setRawMode(true)
  input.setEncoding('utf8')
  let typed = ''
  try {
    for await (const chunk of input) {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return typed
        if (char === '\u0003') throw new Error('cancelled')
        typed = char === '\u007f' ? typed.slice(0, -1) : typed + char
      }
    }
    return typed
  } finally {
    input.setRawMode(false)
    input.pause()
    process.stderr.write('\n')
  }
}
