// The login fields of the forms (the traffic lab's and a chat window's): a user and a password, for the line
// protocol on a server started with users (--users).
import type { LoadAuth } from '../../shared/load'

/**
 * No user, no login. A user without a password is refused here, by name: the host never gives a password back
 * (a kept load config, a window's state), so a form restored from one has the user and an empty password.
 */
export function toAuth(user: string, password: string): LoadAuth | null {
  const name = user.trim()
  if (name === '') return null
  if (password === '') throw new Error(`password: needed to log in as ${name} (passwords are never kept: type it again)`)
  return { user: name, password }
}
