import { useEffect } from 'react'
import { ChatClient } from './components/ChatClient'
import { ControlPanel } from './components/ControlPanel'
import { useAppStore } from './context'

/** A client window is named after its nick and server (the window's title in Electron, the tab's in a browser). */
function ClientWindowTitle() {
  const config = useAppStore((s) => s.client.config)
  const nick = useAppStore((s) => s.chat.nick)
  useEffect(() => {
    const server = config ? `${config.host}:${config.port}` : null
    document.title = [nick, server].filter(Boolean).join(' @ ') || 'Switchboard client'
  }, [config, nick])
  return null
}

/** A window is the control panel, or (with #client) a client window: a chat client of its own. */
export function App({ view }: { view: 'panel' | 'client' }) {
  return view === 'client' ? (
    <div className="client-window">
      <ClientWindowTitle />
      <ChatClient title="Client window" />
    </div>
  ) : (
    <ControlPanel />
  )
}
