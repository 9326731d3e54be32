import type { StateCreator } from 'zustand/vanilla'
import type { ClientFrame, ClientFrames, ClientState } from '../../../shared/contract'
import type { AppState } from '.'
import { applyLine, emptyChat, untagged, type ChatView } from './chat'

/** Messages a window keeps on screen. */
export const MESSAGE_CAP = 1000

export interface ChatMessage {
  seq: number
  at: number
  /** As received, but a line's tags (`@id=...`) are left off: the line is shown as the line it tags. */
  text: string
  /** The window's own client said it (e.g. what a reconnection restored), not the server. */
  notice?: boolean
}

export interface ClientSlice {
  client: ClientState
  messages: ChatMessage[]
  /** Frames the host skipped because they came faster than a window can show. */
  droppedFrames: number
  chat: ChatView
  setClient(client: ClientState): void
  appendFrames(batch: ClientFrames): void
}

let seq = 0

export const createClientSlice: StateCreator<AppState, [], [], ClientSlice> = (set) => ({
  client: { status: 'idle', config: null, reason: null, retryInMs: null },
  messages: [],
  droppedFrames: 0,
  chat: emptyChat(),
  // A new connection starts a new conversation; one that comes back by itself ('reconnecting') carries it on.
  setClient: (client) =>
    set(client.status === 'connecting' ? { client, messages: [], droppedFrames: 0, chat: emptyChat() } : { client }),
  appendFrames: ({ frames, dropped }) =>
    set((state) => {
      const isLine = state.client.config?.codec !== 'asio'
      let chat = state.chat
      if (isLine) for (const frame of frames) if (!frame.notice) chat = applyLine(chat, frame.text)
      // An asio body is the sender's text as it is, whatever it starts with.
      const shown = (frame: ClientFrame) => (isLine && !frame.notice ? { ...frame, text: untagged(frame.text) } : frame)
      const next = state.messages.concat(frames.map((frame) => ({ seq: ++seq, ...shown(frame) })))
      return {
        chat,
        droppedFrames: state.droppedFrames + dropped,
        messages: next.length > MESSAGE_CAP ? next.slice(next.length - MESSAGE_CAP) : next
      }
    })
})
