import { useApi } from '../context'
import { Charts } from './Charts'
import { ChatClient } from './ChatClient'
import { EventLog } from './EventLog'
import { ServerCard } from './ServerCard'
import { SessionsTable } from './SessionsTable'
import { TrafficLab } from './TrafficLab'

export function ControlPanel() {
  const api = useApi()
  return (
    <div className="panel">
      <header className="app-bar">
        <h1>Switchboard</h1>
        <button type="button" onClick={() => api.openClientWindow()}>
          Open client window
        </button>
      </header>
      <div className="grid">
        <ServerCard />
        <Charts />
        <SessionsTable />
        <TrafficLab />
        <ChatClient />
        <EventLog />
      </div>
    </div>
  )
}
