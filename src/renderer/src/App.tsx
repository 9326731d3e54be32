import { ChatClient } from './components/ChatClient'
import { ControlPanel } from './components/ControlPanel'

/** A window is the control panel, or (with #client) a client window: a chat client of its own. */
export function App({ view }: { view: 'panel' | 'client' }) {
  return view === 'client' ? (
    <div className="client-window">
      <ChatClient title="Client window" />
    </div>
  ) : (
    <ControlPanel />
  )
}
