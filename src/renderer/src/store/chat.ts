// What a chat client window knows of its conversation, derived from the lines it receives.

export interface ChatView {
  /** Our nick as the server knows it (line protocol only). */
  nick: string | null
  room: string | null
  members: string[]
}

export const emptyChat = (): ChatView => ({ nick: null, room: null, members: [] })

/** Applies one received line of the line protocol to the view; other lines leave it as it is. */
export function applyLine(view: ChatView, line: string): ChatView {
  const [verb, a, b] = line.split(' ')
  switch (verb) {
    case 'WELCOME':
      return { nick: b ?? null, room: null, members: [] }
    case 'JOINED':
      if (b === view.nick) return { ...view, room: a, members: [b] }
      if (a !== view.room || view.members.includes(b)) return view
      return { ...view, members: [...view.members, b].sort() }
    case 'LEFT':
      if (b === view.nick) return { ...view, room: null, members: [] }
      return a === view.room ? { ...view, members: view.members.filter((m) => m !== b) } : view
    case 'NICK':
      return {
        ...view,
        nick: view.nick === a ? b : view.nick,
        members: view.members.map((m) => (m === a ? b : m)).sort()
      }
    case 'USERS':
      return a === view.room ? { ...view, members: line.split(' ').slice(2).sort() } : view
    default:
      return view
  }
}
