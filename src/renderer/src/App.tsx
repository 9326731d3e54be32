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

/** Nothing on the page is live once its host is gone: said above everything, with the host's reason. */
function HostLost() {
  const reason = useAppStore((s) => s.hostLost)
  if (reason === null) return null
  return (
    <p className="host-lost" role="alert" data-testid="host-lost">
      Not connected to the Switchboard host: {reason}. Reload the page to try again.
    </p>
  )
}

/** A window is the control panel, or (with #client) a client window: a chat client of its own. */
export function App({ view }: { view: 'panel' | 'client' }) {
  return (
    <>
      <HostLost />
      {view === 'client' ? (
        <div className="client-window">
          <ClientWindowTitle />
          <ChatClient title="Client window" />
        </div>
      ) : (
        <ControlPanel />
      )}
    </>
  )
}
