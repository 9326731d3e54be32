import { lazy, Suspense, type ReactNode } from 'react'
import { useApi } from '../context'
import { ChatClient } from './ChatClient'
import { EventLog } from './EventLog'
import { ServerCard } from './ServerCard'

// The charting (uPlot) and the virtualized table load after the page: a client window never needs them,
// and the control room shows its server card and chat while they arrive.
const Charts = lazy(() => import('./Charts').then((m) => ({ default: m.Charts })))
const SessionsTable = lazy(() => import('./SessionsTable').then((m) => ({ default: m.SessionsTable })))
const TrafficLab = lazy(() => import('./TrafficLab').then((m) => ({ default: m.TrafficLab })))

const Loading = ({ label }: { label: string }): ReactNode => (
  <section className="card" aria-label={label} aria-busy="true">
    <p className="muted">Loading {label}…</p>
  </section>
)

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
        <Suspense fallback={<Loading label="charts" />}>
          <Charts />
        </Suspense>
        <Suspense fallback={<Loading label="sessions" />}>
          <SessionsTable />
        </Suspense>
        <Suspense fallback={<Loading label="traffic lab" />}>
          <TrafficLab />
        </Suspense>
        <ChatClient />
        <EventLog />
      </div>
    </div>
  )
}
