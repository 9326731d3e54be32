import { VERB_USAGE, type ErrorCode } from './commands'

/** The server's lines, one function per verb, so the grammar lives in one place (docs/PROTOCOL.md). */
export const reply = {
  welcome: (sessionId: number, nick: string) => `WELCOME ${sessionId} ${nick}`,
  msg: (room: string, nick: string, text: string) => `MSG ${room} ${nick} ${text}`,
  /** A line with its message's id, as an IRCv3 message tag, for sessions that sent `CAP ids`. */
  tagged: (id: string, line: string) => `@id=${id} ${line}`,
  taggedMsg: (id: string, room: string, nick: string, text: string) => reply.tagged(id, reply.msg(room, nick, text)),
  cap: (cap: string) => `CAP ${cap}`,
  historyEnd: (room: string, count: number) => `HISTORY-END ${room} ${count}`,
  resumeEnd: (room: string, count: number) => `RESUME-END ${room} ${count}`,
  joined: (room: string, nick: string) => `JOINED ${room} ${nick}`,
  left: (room: string, nick: string) => `LEFT ${room} ${nick}`,
  nick: (oldNick: string, newNick: string) => `NICK ${oldNick} ${newNick}`,
  users: (room: string, nicks: string[]) => ['USERS', room, ...nicks].join(' '),
  usersEnd: (room: string, count: number) => `USERS-END ${room} ${count}`,
  pong: (token: string) => (token ? `PONG ${token}` : 'PONG'),
  help: () => `HELP ${VERB_USAGE.join(', ')}`,
  bye: (reason: string) => `BYE ${reason}`,
  err: (code: ErrorCode, text: string) => `ERR ${code} ${text}`
}
