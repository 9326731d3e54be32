// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ServerCard } from '../../src/renderer/src/components/ServerCard'
import { SessionsTable } from '../../src/renderer/src/components/SessionsTable'
import type { AppStore } from '../../src/renderer/src/store'
import type { ServerConfig, ServerState } from '../../src/shared/contract'
import { DEFAULT_SESSION_QUERY, MAX_PAGE_ROWS, type ClusterMetrics, type MetricsSnapshot, type SessionMetrics } from '../../src/shared/telemetry'
import { sessionPage, snapshot as fixture } from '../telemetry-fixtures'
import { renderWithHost, renderWithStore, TEST_CONFIG, type Harness, type RecordedCall } from './harness'

/**
 * A cluster needs Redis and a second node; what the control room draws of one is a snapshot (and this
 * node's page of sessions). These tests feed the store such snapshots and pages, and record the calls the
 * components make, through the contract's own proxy so that a call looks exactly as a host would receive it.
 */

const NOW = 1_700_000_000_000

function session(id: number, nick: string, user: string | null = null): SessionMetrics {
  return {
    id, remote: `127.0.0.1:${50000 + id}`, listener: 'line:7000', codec: 'line', nick, room: 'lobby', user, connectedAt: NOW - 65_000,
    bytesIn: 2048, bytesOut: 4096, msgsIn: 12, msgsOut: 34, queuedBytes: 0, rateLimited: 0, msgsInPerSec: 2, idleMs: 1500, overSoftMs: null
  }
}

/** This node's own sessions, as the host pages them: most output pending first. */
const LOCAL: SessionMetrics[] = [
  { ...session(2, 'alan', 'turing'), queuedBytes: 300_000, overSoftMs: 1200, msgsInPerSec: 0, idleMs: 42_000, rateLimited: 3 },
  session(1, 'ada')
]

const CLUSTER: ClusterMetrics = {
  nodeId: 'node-a',
  redis: 'redis://10.0.0.5:6379/2',
  redisReachable: true,
  fenced: null,
  nodes: [
    { id: 'node-a', self: true, sessions: 2, msgsInPerSec: 120, msgsOutPerSec: 480, listeners: ['line:127.0.0.1:7000'], seenAgoMs: 200 },
    { id: 'node-b', self: false, sessions: 5, msgsInPerSec: 30, msgsOutPerSec: 90, listeners: ['line:127.0.0.1:7100'], seenAgoMs: 1500 }
  ],
  rooms: [
    { room: 'lobby', localMembers: 2, lagMs: 3.5 },
    { room: 'den', localMembers: 1, lagMs: 2500 },
    { room: 'quiet', localMembers: 1, lagMs: null }
  ],
  remoteSessions: [
    // The same id as a local session: ids are per node, so only the node tells them apart.
    { node: 'node-b', id: 1, nick: 'bea', room: 'lobby', user: 'kowalski', remote: '10.0.0.9:41000', listener: 'line:7100', connectedAt: NOW - 5_000 },
    { node: 'node-b', id: 9, nick: 'ben', room: 'den', user: null, remote: '10.0.0.9:41001', listener: 'asio:7101', connectedAt: NOW - 7_000 }
  ],
  appended: 1234,
  backlogBytes: 3 * 2 ** 20,
  backlogRefused: 42,
  leaseAgeMs: 800,
  delivered: 5678,
  duplicatesDropped: 3,
  entriesLost: 7,
  nodesReaped: 1
}

function snapshot(cluster: ClusterMetrics | null): MetricsSnapshot {
  return fixture(NOW, {
    cluster,
    totals: {
      sessions: 2, msgsIn: 24, msgsOut: 68, msgsInPerSec: 120, msgsOutPerSec: 480, poolThreads: 2, poolUtilization: 0.1,
      logicLatencyP50Ms: 0.2, logicLatencyP99Ms: 1, eventLoopLagP99Ms: 1
    }
  })
}

/** What the host sends a cluster node's table: the snapshot (with the other nodes' sessions) and this node's page. */
function feed(store: AppStore, cluster: ClusterMetrics | null) {
  act(() => {
    store.getState().pushMetrics(snapshot(cluster))
    store.getState().setSessionPage(sessionPage(LOCAL))
  })
}

const queries = (calls: RecordedCall[]) => calls.filter((c) => c.call === 'setSessionQuery').map((c) => c.args[0])
const kicks = (calls: RecordedCall[]) => calls.filter((c) => c.call === 'kickSession')

const RUNNING: ServerState = {
  status: 'running',
  config: { ...TEST_CONFIG, cluster: { redis: 'redis://10.0.0.5:6379/2', nodeId: 'node-a' } },
  bound: [{ codec: 'line', host: '127.0.0.1', port: 7000, name: 'line:7000' }],
  startedAt: NOW,
  error: null
}

const cellsOf = (row: HTMLElement) => within(row).getAllByRole('cell').map((c) => c.textContent)

let harness: Harness | undefined
afterEach(async () => {
  await harness?.dispose()
  harness = undefined
  cleanup()
})

describe('ServerCard of a cluster node', () => {
  it('shows the nodes, Redis, the lag per room and the stream counters', () => {
    const { store } = renderWithStore(<ServerCard />)
    act(() => {
      store.getState().setServer(RUNNING)
      store.getState().pushMetrics(snapshot(CLUSTER))
    })
    const view = screen.getByRole('region', { name: 'cluster' })
    expect(within(view).getByTestId('cluster-node').textContent).toBe('node-a')
    expect(view.textContent).toContain('redis://10.0.0.5:6379/2')
    expect(within(view).getByTestId('cluster-redis').textContent).toBe('connected')

    const nodes = within(view).getByRole('table', { name: 'cluster nodes' })
    const self = nodes.querySelector('[data-node="node-a"]') as HTMLElement
    const other = nodes.querySelector('[data-node="node-b"]') as HTMLElement
    expect(within(self).getByRole('rowheader').textContent).toBe('node-athis')
    expect(within(other).getByRole('rowheader').textContent).toBe('node-b')
    expect(cellsOf(self)).toEqual(['2', '120', '480', '0s ago'])
    expect(cellsOf(other)).toEqual(['5', '30', '90', '1s ago'])

    const rooms = within(view).getByRole('table', { name: 'cluster rooms' })
    expect(cellsOf(rooms.querySelector('[data-room="lobby"]') as HTMLElement)).toEqual(['2', '3.50 ms'])
    const den = rooms.querySelector('[data-room="den"]') as HTMLElement
    expect(cellsOf(den)).toEqual(['1', '2500 ms'])
    expect(within(den).getAllByRole('cell')[1].className).toContain('warn')
    expect(cellsOf(rooms.querySelector('[data-room="quiet"]') as HTMLElement)).toEqual(['1', '–'])

    expect(within(view).getByTestId('cluster-appended').textContent).toBe('1.2K')
    expect(within(view).getByTestId('cluster-delivered').textContent).toBe('5.7K')
    expect(within(view).getByTestId('cluster-duplicates').textContent).toBe('3')
    expect(within(view).getByTestId('cluster-lost').textContent).toBe('7')
    expect(within(view).getByTestId('cluster-reaped').textContent).toBe('1')
    expect(within(view).getByTestId('cluster-backlog').textContent).toBe('3.1MB waiting on Redis, 42 lines refused')
  })

  it('says when Redis is out of reach, and shows no cluster for a server on its own', () => {
    const { store } = renderWithStore(<ServerCard />)
    act(() => {
      store.getState().setServer(RUNNING)
      store.getState().pushMetrics(snapshot({ ...CLUSTER, redisReachable: false, fenced: 'no answer from Redis for 5000 ms' }))
    })
    expect(screen.getByTestId('cluster-redis').textContent).toBe('unreachable')
    expect(screen.getByTestId('cluster-fenced').textContent).toContain('no answer from Redis for 5000 ms')
    act(() => store.getState().pushMetrics(snapshot(null)))
    expect(screen.queryByRole('region', { name: 'cluster' })).toBeNull()
  })

  it('starts the server as a cluster node from the form, and alone while the Redis URL is empty', async () => {
    const { store, calls } = renderWithStore(<ServerCard />)
    act(() => store.getState().setServer({ ...RUNNING, status: 'stopped', config: TEST_CONFIG, bound: [], startedAt: null }))
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(calls).toHaveLength(1))
    expect((calls[0].args[0] as ServerConfig).cluster).toBeNull()

    // A node id typed first is kept, but no cluster is asked for until there is a URL.
    fireEvent.change(screen.getByLabelText('node id'), { target: { value: ' node-b ' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(calls).toHaveLength(2))
    expect((calls[1].args[0] as ServerConfig).cluster).toBeNull()

    fireEvent.change(screen.getByLabelText('node id'), { target: { value: ' node-b ' } })
    fireEvent.change(screen.getByLabelText('redis url'), { target: { value: 'redis://127.0.0.1:6379 ' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(calls).toHaveLength(3))
    expect(calls[2]).toEqual({ call: 'startServer', args: [{ ...TEST_CONFIG, cluster: { redis: 'redis://127.0.0.1:6379', nodeId: 'node-b' } }] })
  })

  it('shows why the host refused a cluster section, and starts nothing', async () => {
    harness = renderWithHost(<ServerCard />)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    fireEvent.change(screen.getByLabelText('redis url'), { target: { value: 'redis://user:secret@127.0.0.1:6379' } })
    fireEvent.change(screen.getByLabelText('node id'), { target: { value: 'node-a' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toMatch(/config\.cluster\.redis: expected redis:\/\/host:port/)
    expect(alert.textContent).toContain('got "redis://…@127.0.0.1:6379"')
    expect(harness.host.serverState.status).toBe('stopped')
  })
})

describe('SessionsTable of a cluster node', () => {
  // happy-dom does no layout: give the table's scroller the height CSS gives it (as components.test.tsx does).
  beforeAll(() => {
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains('table-body') ? 300 : 0
      }
    })
  })

  const rowOf = (node: string, id: number) => document.querySelector(`[data-node="${node}"][data-session="${id}"]`) as HTMLElement
  /** Rows the table holds (the virtualizer renders those in view only, in a scroller as tall as all of them). */
  const listedRows = () => parseFloat((document.querySelector('.table-body > div') as HTMLElement).style.height) / 28

  it('lists every node\'s sessions with a node column and the user each logged in as, dashes for counters kept on another node', () => {
    const { store } = renderWithStore(<SessionsTable />)
    feed(store, CLUSTER)
    const headers = screen.getAllByRole('columnheader').map((h) => h.textContent)
    expect(headers).toEqual([
      'id', 'node', 'nick', 'user', 'room', 'remote', 'listener', 'age', 'idle', 'msgs/s', 'msgs in', 'msgs out', 'bytes out', 'output pending ▾', 'rate-dropped'
    ])
    expect(screen.getByTestId('session-count').textContent).toBe('4')
    // 2 here and 5 on node-b, of which Redis listed 2.
    expect(screen.getByTestId('cluster-session-count').textContent).toBe('of 7 in the cluster')

    // This node's page first, in the host's order; then the other node's sessions, as Redis listed them.
    const rows = [...document.querySelectorAll('[data-session]')].map((el) => `${el.getAttribute('data-node')}:${el.getAttribute('data-session')}`)
    expect(rows).toEqual(['node-a:2', 'node-a:1', 'node-b:1', 'node-b:9'])
    // ada did not log in (a dash); alan logged in as turing; bea, on node-b, as kowalski.
    expect(cellsOf(rowOf('node-a', 1))).toEqual(['1', 'node-a', 'ada', '–', 'lobby', '127.0.0.1:50001', 'line:7000', '1m 5s', '1s', '2', '12', '34', '4.1KB', '0B', '0'])
    expect(cellsOf(rowOf('node-a', 2))).toEqual(['2', 'node-a', 'alan', 'turing', 'lobby', '127.0.0.1:50002', 'line:7000', '1m 5s', '42s', '0', '12', '34', '4.1KB', '300KBsoft 1.2s', '3'])
    expect(cellsOf(rowOf('node-b', 1))).toEqual(['1', 'node-b', 'bea', 'kowalski', 'lobby', '10.0.0.9:41000', 'line:7100', '5s', '–', '–', '–', '–', '–', '–', '–'])
    expect(cellsOf(rowOf('node-b', 9))).toEqual(['9', 'node-b', 'ben', '–', 'den', '10.0.0.9:41001', 'asio:7101', '7s', '–', '–', '–', '–', '–', '–', '–'])
  })

  it('asks the host for its page by the filter, and filters the other nodes\' sessions itself', async () => {
    const { store, calls } = renderWithStore(<SessionsTable />)
    feed(store, CLUSTER)
    await waitFor(() => expect(queries(calls)).toEqual([DEFAULT_SESSION_QUERY]))
    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: 'node-b' } })
    const asked = { ...DEFAULT_SESSION_QUERY, filter: 'node-b' }
    await waitFor(() => expect(queries(calls).at(-1)).toEqual(asked))
    // The host's answer: none of this node's sessions holds "node-b".
    act(() => store.getState().setSessionPage(sessionPage([], { query: asked, matched: 0, total: 2 })))
    expect(screen.getByTestId('session-count').textContent).toBe('2 of 4')
    expect(rowOf('node-a', 1)).toBeNull()
    expect(rowOf('node-b', 1)).toBeTruthy()
    expect(rowOf('node-b', 9)).toBeTruthy()

    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: 'BEN' } })
    await waitFor(() => expect(queries(calls).at(-1)).toEqual({ ...DEFAULT_SESSION_QUERY, filter: 'BEN' }))
    expect(rowOf('node-b', 1)).toBeNull()
    expect(rowOf('node-b', 9)).toBeTruthy()

    // As the host does for this node's: the user a session logged in as finds it too.
    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: 'Kowal' } })
    await waitFor(() => expect(queries(calls).at(-1)).toEqual({ ...DEFAULT_SESSION_QUERY, filter: 'Kowal' }))
    expect(rowOf('node-b', 1)).toBeTruthy()
    expect(rowOf('node-b', 9)).toBeNull()
  })

  it('shows the other nodes\' sessions after this node\'s first page only', async () => {
    const { store, calls } = renderWithStore(<SessionsTable />)
    const many = Array.from({ length: 250 }, (_, i) => session(i + 1, `user-${i + 1}`))
    act(() => {
      store.getState().pushMetrics(snapshot(CLUSTER))
      store.getState().setSessionPage(sessionPage(many.slice(0, MAX_PAGE_ROWS), { matched: 250, total: 250 }))
    })
    expect(screen.getByTestId('page-rows').textContent).toBe('1–100 of 250')
    expect(screen.getByTestId('session-count').textContent).toBe('252')
    expect(screen.getByTestId('cluster-session-count').textContent).toBe('of 255 in the cluster')
    // Only the rows in view are in the DOM; the scroller's height holds them all.
    expect(listedRows()).toBe(102)
    expect((screen.getByRole('button', { name: 'previous page' }) as HTMLButtonElement).disabled).toBe(true)

    fireEvent.click(screen.getByRole('button', { name: 'next page' }))
    const second = { ...DEFAULT_SESSION_QUERY, offset: MAX_PAGE_ROWS }
    await waitFor(() => expect(queries(calls).at(-1)).toEqual(second))
    act(() => store.getState().setSessionPage(sessionPage(many.slice(100, 200), { query: second, matched: 250, total: 250 })))
    expect(screen.getByTestId('page-rows').textContent).toBe('101–200 of 250')
    expect(listedRows()).toBe(100)
    expect(document.querySelector('[data-node="node-b"]')).toBeNull()
    expect((screen.getByRole('button', { name: 'previous page' }) as HTMLButtonElement).disabled).toBe(false)

    // The sessions leave while this page is shown: the table goes back to the last page there is.
    act(() => store.getState().setSessionPage(sessionPage([], { query: second, matched: 60, total: 60 })))
    await waitFor(() => expect(queries(calls).at(-1)).toEqual(DEFAULT_SESSION_QUERY))
  })

  it('kicks a session of another node through that node, and one of this node here', async () => {
    const { store, calls } = renderWithStore(<SessionsTable />)
    feed(store, CLUSTER)
    fireEvent.click(within(rowOf('node-b', 1)).getByRole('button', { name: 'Kick' }))
    fireEvent.click(within(rowOf('node-a', 1)).getByRole('button', { name: 'Kick' }))
    await waitFor(() => expect(kicks(calls)).toHaveLength(2))
    expect(kicks(calls)).toEqual([
      { call: 'kickSession', args: [1, 'node-b'] },
      { call: 'kickSession', args: [1] }
    ])
  })

  it('says so when a Kick found nothing to kick: the other node was gone', async () => {
    const { store } = renderWithStore(<SessionsTable />, false)
    feed(store, CLUSTER)
    fireEvent.click(within(rowOf('node-b', 1)).getByRole('button', { name: 'Kick' }))
    expect((await screen.findByRole('alert')).textContent).toBe('session 1 of node node-b was not kicked: it is gone, or its node is')
  })

  it('has no node column for a server on its own', () => {
    const { store } = renderWithStore(<SessionsTable />)
    feed(store, null)
    const headers = screen.getAllByRole('columnheader').map((h) => h.textContent)
    expect(headers).not.toContain('node')
    expect(headers).not.toContain('listener')
    expect(headers).toContain('codec')
    expect(headers.slice(0, 6)).toEqual(['id', 'nick', 'user', 'room', 'remote', 'codec'])
    expect(cellsOf(document.querySelector('[data-session="1"]') as HTMLElement).slice(0, 6)).toEqual(['1', 'ada', '–', 'lobby', '127.0.0.1:50001', 'line'])
    expect(cellsOf(document.querySelector('[data-session="2"]') as HTMLElement).slice(0, 3)).toEqual(['2', 'alan', 'turing'])
    expect(screen.getByTestId('session-count').textContent).toBe('2')
    expect(screen.queryByTestId('cluster-session-count')).toBeNull()
  })
})
