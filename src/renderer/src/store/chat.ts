// What a chat client window knows of its conversation, derived from the lines it receives.

export interface ChatView {
  /** Our nick as the server knows it (line protocol only). */
  nick: string | null
  room: string | null
  members: string[]
  /** A WHO answer comes in USERS pages: the names so far, until USERS-END; null when none is coming. */
  listing: string[] | null
}

export const emptyChat = (): ChatView => ({ nick: null, room: null, members: [], listing: null })

/**
 * A line without its message tags: a client that asked for ids (`CAP ids`) gets `@id=<id> MSG room nick text`,
 * which is shown, and read, as `MSG room nick text`. Tags come first and start with `@`, as IRCv3's do.
 */
export const untagged = (line: string): string => (line.startsWith('@') && line.includes(' ') ? line.slice(line.indexOf(' ') + 1) : line)

/** Applies one received line of the line protocol (tagged or not) to the view; other lines leave it as it is. */
export function applyLine(view: ChatView, line: string): ChatView {
  const [verb, a, b] = untagged(line).split(' ')
  switch (verb) {
    case 'WELCOME':
      return { ...emptyChat(), nick: b ?? null }
    case 'JOINED':
      if (b === view.nick) return { ...view, room: a, members: [b], listing: null }
      if (a !== view.room || view.members.includes(b)) return view
      return { ...view, members: [...view.members, b].sort() }
    case 'LEFT':
      if (b === view.nick) return { ...view, room: null, members: [], listing: null }
      return a === view.room ? { ...view, members: view.members.filter((m) => m !== b) } : view
    case 'NICK':
      return {
        ...view,
        nick: view.nick === a ? b : view.nick,
        members: view.members.map((m) => (m === a ? b : m)).sort()
      }
    case 'USERS':
      return a === view.room ? { ...view, listing: [...(view.listing ?? []), ...line.split(' ').slice(2)] } : view
    case 'USERS-END':
      return a === view.room ? { ...view, members: (view.listing ?? []).sort(), listing: null } : view
    default:
      return view
  }
}
