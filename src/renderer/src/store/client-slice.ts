import type { StateCreator } from 'zustand/vanilla'
import type { ClientFrames, ClientState } from '../../../shared/contract'
import type { AppState } from '.'
import { applyLine, emptyChat, type ChatView } from './chat'

/** Messages a window keeps on screen. */
export const MESSAGE_CAP = 1000

export interface ChatMessage {
  seq: number
  at: number
  text: string
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
  client: { status: 'idle', config: null, reason: null },
  messages: [],
  droppedFrames: 0,
  chat: emptyChat(),
  // A new connection starts a new conversation.
  setClient: (client) =>
    set(client.status === 'connecting' ? { client, messages: [], droppedFrames: 0, chat: emptyChat() } : { client }),
  appendFrames: ({ frames, dropped }) =>
    set((state) => {
      const isLine = state.client.config?.codec !== 'asio'
      let chat = state.chat
      if (isLine) for (const frame of frames) chat = applyLine(chat, frame.text)
      const next = state.messages.concat(frames.map((frame) => ({ seq: ++seq, ...frame })))
      return {
        chat,
        droppedFrames: state.droppedFrames + dropped,
        messages: next.length > MESSAGE_CAP ? next.slice(next.length - MESSAGE_CAP) : next
      }
    })
})
