import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LogKind } from '../../../shared/telemetry'
import { verifyPassword, type PasswordHash } from '../auth/password'
import type { Users } from '../auth/users'
import { FRAME_FAILED } from '../logic/pipeline'
import type { Command } from '../protocol/commands'
import type { ChatProtocol } from './chat-protocol'
import { LineReplies } from './line-replies'
import type { Session } from './session'

/** Wrong passwords a session may give before it is closed. */
const AUTH_TRIES = 3

export interface AuthGateOptions {
  /** How long a wrong password's answer waits: guessing costs the guesser time, not the server. */
  failDelayMs: number
  /** How long a session may stay without logging in (0: for ever): one that never does holds a place for nothing. */
  loginTimeoutMs: number
  log(kind: LogKind, text: string, sessionId: number): void
}

/**
 * A session of a server with users, until it leaves: the wrong passwords it gave, its commands waiting behind
 * an AUTH being checked, and its time to log in.
 */
interface Door {
  tries: number
  checking: Promise<unknown> | null
  gone: boolean
  deadline: NodeJS.Timeout | null
}

/**
 * The line listeners' door. On a server with users, a session is in no room and may only log in (`AUTH`),
 * `PING`, ask for `HELP` or `QUIT` until it has logged in; then it joins the rooms as its user. Without users
 * it lets every session straight through and answers AUTH that it needs none. It keeps a session's commands
 * in order: those sent behind an AUTH wait for its answer.
 */
export class AuthGate extends LineReplies implements ChatProtocol {
  private readonly doors = new Map<Session, Door>()
  /** Checked for names no user has, so that a wrong name takes as long to refuse as a wrong password. */
  private decoy: PasswordHash | null = null

  constructor(
    private readonly chat: ChatProtocol,
    private users: Users | null,
    private readonly options: AuthGateOptions
  ) {
    super()
    this.setUsers(users)
  }

  /** The users from now on (the file read again): sessions already logged in stay. */
  setUsers(users: Users | null): void {
    if (this.users === null && users !== null) throw new Error('a server started without users cannot be given some')
    this.users = users
    // As costly as the costliest entry: a file of mixed costs must not tell names apart by the time taken.
    const work = ({ ln, r, p }: PasswordHash) => 2 ** ln * r * p
    const costliest = [...(users?.values() ?? [])].map((user) => user.hash).sort((a, b) => work(b) - work(a))[0]
    this.decoy = costliest ? { ...costliest, salt: randomBytes(costliest.salt.length), hash: randomBytes(costliest.hash.length) } : null
  }

  join(session: Session): void {
    if (this.users === null) return this.chat.join(session)
    // Nothing to say until it speaks, as Redis with a password: its first command is answered.
    const door: Door = { tries: 0, checking: null, gone: false, deadline: null }
    this.doors.set(session, door)
    this.armDeadline(session, door)
  }

  leave(session: Session): void {
    const door = this.doors.get(session)
    if (door) {
      door.gone = true
      if (door.deadline) clearTimeout(door.deadline)
      this.doors.delete(session)
    }
    if (this.users === null || session.user !== null) this.chat.leave(session)
  }

  commit(session: Session, frame: Buffer, command: Command | null): Promise<unknown> | void {
    const door = this.doors.get(session)
    if (door && (door.checking !== null || command?.verb === 'AUTH')) return this.behind(session, door, () => session.heard && this.apply(session, door, frame, command))
    return this.apply(session, door, frame, command)
  }

  describe(session: Session): { nick: string | null; room: string | null } {
    return this.chat.describe(session)
  }

  /** Closes the session if it has not logged in within loginTimeoutMs (a check under way is waited for). */
  private armDeadline(session: Session, door: Door): void {
    const { loginTimeoutMs } = this.options
    if (loginTimeoutMs <= 0) return
    door.deadline = setTimeout(() => {
      door.deadline = null
      if (door.gone || session.user !== null) return
      if (door.checking !== null) return this.armDeadline(session, door)
      this.refuse(session, 'auth-required', `no login within ${loginTimeoutMs / 1000} s: closing`)
      session.end('auth-required: no login in time')
    }, loginTimeoutMs)
    door.deadline.unref()
  }

  /** Runs `step` once what the session sent before it is done. Settles, never rejects: a step that throws is logged and told. */
  private behind(session: Session, door: Door, step: () => unknown): Promise<unknown> {
    const chained = (door.checking ?? Promise.resolve()).then(step).catch((error: unknown) => {
      this.options.log('error', `session ${session.id}: applying a message failed, sender told: ${String(error)}`, session.id)
      this.refuse(session, FRAME_FAILED.code, FRAME_FAILED.text)
    })
    door.checking = chained
    void chained.then(() => {
      if (door.checking === chained) door.checking = null
    })
    return chained
  }

  private apply(session: Session, door: Door | undefined, frame: Buffer, command: Command | null): Promise<unknown> | void {
    if (command?.verb === 'AUTH') return this.auth(session, door, command.user, command.password)
    if (door && session.user === null) return this.outside(session, command)
    if (command?.verb === 'NICK' && this.othersName(session, command.name)) {
      return this.refuse(session, 'nick-taken', `nick ${command.name} is a user's name`)
    }
    return this.chat.commit(session, frame, command)
  }

  /** Before it logged in: only what needs no room. */
  private outside(session: Session, command: Command | null): void {
    if (command === null || this.answerAnywhere(session, command)) return
    this.refuse(session, 'auth-required', 'log in first: AUTH <user> <password>')
  }

  private async auth(session: Session, door: Door | undefined, name: string, password: string): Promise<void> {
    if (this.users === null || !door) return this.refuse(session, 'bad-argument', 'this server has no users: no AUTH needed')
    if (session.user !== null) return this.refuse(session, 'bad-argument', `already logged in as ${session.user}`)
    const user = this.users.get(name.toLowerCase())
    const hash = user?.hash ?? this.decoy
    const matches = hash !== null && (await verifyPassword(password, hash).catch(() => false))
    // Gone, or being ended by the server (kicked, shut down) while its password was checked: not let in.
    if (door.gone || !session.heard) return
    if (user && matches) {
      if (door.deadline) clearTimeout(door.deadline)
      session.user = user.name
      this.options.log('connect', `session ${session.id} logged in as ${user.name}`, session.id)
      return this.chat.join(session, user.name)
    }
    door.tries++
    this.options.log('refuse', `session ${session.id}: AUTH as ${name} failed (${door.tries} of ${AUTH_TRIES})`, session.id)
    await sleep(this.options.failDelayMs)
    if (door.gone || !session.heard) return
    if (door.tries < AUTH_TRIES) return this.refuse(session, 'auth-failed', `wrong user or password (${door.tries} of ${AUTH_TRIES} tries)`)
    this.refuse(session, 'auth-failed', `wrong user or password ${AUTH_TRIES} times: closing`)
    session.end(`auth-failed: ${AUTH_TRIES} wrong passwords`)
  }

  /** Another user's name: on a server with users, a nick never passes for someone it is not. */
  private othersName(session: Session, nick: string): boolean {
    const owner = this.users?.get(nick.toLowerCase())
    return owner !== undefined && owner.name !== session.user
  }
}
