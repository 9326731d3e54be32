// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { connect, type Socket } from 'node:net'
import { resolve } from 'node:path'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { EventLog } from '../../src/renderer/src/components/EventLog'
import { ServerCard } from '../../src/renderer/src/components/ServerCard'
import { SessionsTable } from '../../src/renderer/src/components/SessionsTable'
import { SlowConsumers } from '../../src/renderer/src/components/SlowConsumers'
import { SwitchboardHost } from '../../src/main/host/host'
import { startWebHost, type WebHost } from '../../src/main/web/web-host'
import { bridgeApiToStore, createAppStore } from '../../src/renderer/src/store'
import { createWebSocketTransport } from '../../src/renderer/src/transport/websocket'
import { createApiProxy, type ServerState } from '../../src/shared/contract'
import { MAX_PAGE_ROWS, type SessionMetrics } from '../../src/shared/telemetry'
import { LOAD_AGENT_FILE, WORKER_FILE } from '../helpers'
import { snapshot } from '../telemetry-fixtures'
import { renderWithHost, renderWithStore, TEST_CONFIG, type Harness } from './harness'

let harness: Harness | undefined
const undo: (() => unknown)[] = []

afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step()
  await harness?.dispose()
  harness = undefined
  vi.unstubAllGlobals()
  cleanup()
})

// happy-dom does no layout: give the table's scroller the height CSS gives it (as components.test.tsx does).
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('table-body') ? 300 : 0
    }
  })
})

async function startedHarness(ui: Parameters<typeof renderWithHost>[0]): Promise<{ h: Harness; port: number }> {
  const h = (harness = renderWithHost(ui))
  const state = await act(() => h.host.startServer(h.host.serverState.config))
  expect(state.error).toBeNull()
  await waitFor(() => expect(h.store.getState().server?.status).toBe('running'))
  return { h, port: h.host.serverState.bound[0].port }
}

/** Plain line-protocol sockets, each a session of the server; what they are sent is read and dropped. */
async function lineSockets(port: number, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolvePromise, reject) => {
          const socket = connect({ port, host: '127.0.0.1' }, () => resolvePromise(socket))
          socket.once('error', reject)
          socket.resume()
        })
    )
  )
  undo.push(() => sockets.forEach((socket) => socket.destroy()))
  return sockets
}

/** Rows the table holds (it renders those in view only, in a scroller as tall as all of them). */
const listedRows = () => parseFloat((document.querySelector('.table-body > div') as HTMLElement).style.height) / 28
const pageIds = (h: Harness) => h.store.getState().sessionPage?.rows.map((row) => row.id) ?? []

describe('SessionsTable against a real server: the host sends a page, not every session', () => {
  it('shows at most 100 of 130 sessions, the rest on the next page, and finds one by its nick', async () => {
    const { h, port } = await startedHarness(<SessionsTable />)
    const sockets = await lineSockets(port, 130)
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('130'), { timeout: 5000 })
    await waitFor(() => expect(screen.getByTestId('page-rows').textContent).toBe('1–100 of 130'))
    // Cut by the server: the window was sent 100 rows, not 130 to cut itself.
    expect(h.store.getState().sessionPage!.rows.length).toBeLessThanOrEqual(MAX_PAGE_ROWS)
    expect(h.store.getState().sessionPage).toMatchObject({ matched: 130, total: 130, query: { offset: 0, limit: MAX_PAGE_ROWS } })
    expect(listedRows()).toBe(100)
    expect((screen.getByRole('button', { name: 'previous page' }) as HTMLButtonElement).disabled).toBe(true)

    // Oldest first: an order that stays put while the sessions' output comes and goes.
    fireEvent.click(screen.getByRole('columnheader', { name: /^age/ }))
    await waitFor(() => expect(h.store.getState().sessionPage?.query.sort).toBe('age'))
    const first = pageIds(h)
    expect(first).toHaveLength(100)

    fireEvent.click(screen.getByRole('button', { name: 'next page' }))
    await waitFor(() => expect(screen.getByTestId('page-rows').textContent).toBe('101–130 of 130'))
    const second = pageIds(h)
    expect(second).toHaveLength(30)
    expect(h.store.getState().sessionPage?.query).toMatchObject({ sort: 'age', offset: 100 })
    expect(listedRows()).toBe(30)
    expect((screen.getByRole('button', { name: 'next page' }) as HTMLButtonElement).disabled).toBe(true)
    // The two pages are every session once.
    expect(new Set([...first, ...second]).size).toBe(130)

    sockets[77].write('NICK zed-unique\n')
    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: 'zed-UNIQUE' } })
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('1 of 130'))
    expect(screen.getByTestId('page-rows').textContent).toBe('1–1 of 1')
    expect(h.store.getState().sessionPage?.rows.map((row) => row.nick)).toEqual(['zed-unique'])
    // A filter starts over at the first page.
    expect(h.store.getState().sessionPage?.query.offset).toBe(0)
    expect(within(screen.getByRole('table', { name: 'live sessions' })).getAllByRole('row')).toHaveLength(1)
  })
})

describe('the charts, for a page that (re)connects', () => {
  it('come with the host\'s last minutes at once, before the page\'s own snapshots could fill them', async () => {
    const { h } = await startedHarness(<div />)
    // The harness samples every 50 ms: let the host keep some points.
    await waitFor(() => expect(h.store.getState().history.time.length).toBeGreaterThanOrEqual(6))

    // A browser page reloading: a new WebSocket to the web host, a new store, the same host.
    const web: WebHost = await startWebHost({ host: h.host, rendererDir: resolve('out/renderer'), port: 0, token: 'reload-token' })
    undo.push(() => web.close())
    const headers = { cookie: `switchboard_token_${web.port}=reload-token`, origin: `http://127.0.0.1:${web.port}` }
    vi.stubGlobal(
      'WebSocket',
      class extends WebSocket {
        constructor(url: string) {
          super(url, { headers })
        }
      }
    )
    const before = h.store.getState().history.time.slice()
    const attachedAt = Date.now()
    const api = createApiProxy(createWebSocketTransport(`ws://127.0.0.1:${web.port}/ws`))
    const store = createAppStore()
    let snapshotsSeen = 0
    undo.push(api.onMetrics(() => snapshotsSeen++))
    undo.push(bridgeApiToStore(api, store))
    await waitFor(() => expect(store.getState().history.time.length).toBeGreaterThan(0))

    const { time, queueDepth } = store.getState().history
    expect(time.length).toBeGreaterThan(snapshotsSeen)
    expect(time[0] * 1000).toBeLessThan(attachedAt)
    // The same points the first window drew, from the server's start.
    expect(time.slice(0, before.length)).toEqual(before)
    expect(queueDepth).toHaveLength(time.length)
  })
})

describe('EventLog of the host', () => {
  it('says when the server stopped', async () => {
    const { h } = await startedHarness(<EventLog />)
    await act(() => h.host.stopServer())
    const line = await screen.findByText(/server stopped/)
    expect(line.closest('li')?.className).toBe('log-shutdown')
    expect(h.store.getState().log.filter((e) => e.text === 'server stopped')).toHaveLength(1)
  })

  it('says why the server failed to start: its port is another host\'s', async () => {
    const first = new SwitchboardHost({ workerFile: WORKER_FILE, loadAgentFile: LOAD_AGENT_FILE, config: TEST_CONFIG, serverDefaults: { metricsIntervalMs: 50 } })
    undo.push(() => first.dispose())
    const held = await first.startServer({ ...TEST_CONFIG, workers: 0 })
    expect(held.error).toBeNull()
    const config = { ...TEST_CONFIG, workers: 0, listeners: [{ codec: 'line' as const, host: '127.0.0.1', port: held.bound[0].port }] }

    harness = renderWithHost(<EventLog />, config)
    const state = await act(() => harness!.host.startServer(config))
    expect(state).toMatchObject({ status: 'stopped', error: expect.stringMatching(/EADDRINUSE/) })
    const line = await screen.findByText(/server failed to start: .*EADDRINUSE/)
    expect(line.closest('li')?.className).toBe('log-error')
    expect(harness.store.getState().log.some((e) => e.kind === 'error' && /^server failed to start: .*EADDRINUSE/.test(e.text))).toBe(true)
    // The first host's server is untouched.
    expect(first.serverState.status).toBe('running')
  })
})

describe('ServerCard uptime', () => {
  it('is never negative, from the moment the server runs', async () => {
    harness = renderWithHost(<ServerCard />)
    const uptimes: number[] = []
    undo.push(harness.store.subscribe((state) => state.latest && uptimes.at(-1) !== state.latest.uptimeMs && uptimes.push(state.latest.uptimeMs)))
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const uptime = await screen.findByTestId('uptime')
    expect(uptime.textContent).not.toContain('-')
    expect(uptime.textContent).toMatch(/^up \d+s$/)
    await waitFor(() => expect(uptimes.length).toBeGreaterThanOrEqual(5))
    expect(uptimes.every((ms) => ms >= 0)).toBe(true)
    expect(uptimes).toEqual([...uptimes].sort((a, b) => a - b))
    expect(screen.getByTestId('uptime').textContent).not.toContain('-')
  })

  it('is the server\'s own, not this window\'s clock against the start time', () => {
    const { store } = renderWithStore(<ServerCard />)
    act(() => {
      // This window's clock is an hour behind the host's: against startedAt it would read minus an hour.
      store.getState().setServer(running({ startedAt: Date.now() + 3_600_000 }))
      store.getState().pushMetrics(snapshot(Date.now(), { uptimeMs: 65_000 }))
    })
    expect(screen.getByTestId('uptime').textContent).toBe('up 1m 5s')
  })
})

function running(set: Partial<ServerState> = {}): ServerState {
  return {
    status: 'running',
    config: TEST_CONFIG,
    bound: [{ codec: 'line', host: '127.0.0.1', port: 7000, name: 'line:7000' }],
    startedAt: Date.now(),
    error: null,
    ...set
  }
}

function slow(id: number, nick: string | null, queuedBytes: number, overSoftMs: number | null): SessionMetrics {
  return {
    id, remote: `10.0.0.7:${40000 + id}`, listener: 'line:7000', codec: 'line', nick, room: 'lobby', user: null, connectedAt: 0, bytesIn: 0, bytesOut: 0,
    msgsIn: 0, msgsOut: 0, queuedBytes, rateLimited: 0, msgsInPerSec: 0, idleMs: 0, overSoftMs
  }
}

describe('ServerCard totals and aggregates', () => {
  it('shows the loop lag p99 and max, the output pending and the slow consumers dropped, per listener and room', () => {
    const { store } = renderWithStore(<ServerCard />)
    act(() => {
      store.getState().setServer(running())
      store.getState().pushMetrics(
        snapshot(Date.now(), {
          totals: { sessions: 3, eventLoopLagP99Ms: 2.5, eventLoopLagMaxMs: 140, queuedBytes: 3_000_000, slowConsumers: 2 },
          listeners: [
            { listener: 'line:7000', sessions: 1, msgsInPerSec: 1500, queuedBytes: 2_000_000 },
            { listener: 'asio:7001', sessions: 2, msgsInPerSec: 0, queuedBytes: 1_000_000 }
          ],
          rooms: [
            { room: 'lobby', members: 2 },
            { room: 'den', members: 1 }
          ],
          roomCount: 3
        })
      )
    })
    expect(screen.getByTestId('loop-lag').textContent).toBe('2.50 ms / 140 ms')
    expect(screen.getByTestId('output-pending').textContent).toBe('3MB2 slow consumers dropped')
    const listeners = within(screen.getByRole('list', { name: 'listeners' })).getAllByRole('listitem').map((li) => li.textContent)
    expect(listeners).toEqual(['line:7000: 1 session, 1.5K msgs/s in, 2MB pending', 'asio:7001: 2 sessions, 0 msgs/s in, 1MB pending'])
    // Three rooms, of which the snapshot named the two largest.
    expect(screen.getByLabelText('rooms').textContent).toBe('3 rooms: lobby 2, den 1, …')

    act(() => store.getState().pushMetrics(snapshot(Date.now(), { totals: { slowConsumers: 1, queuedBytes: 0 } })))
    expect(screen.getByTestId('output-pending').textContent).toBe('0B1 slow consumer dropped')
    expect(screen.queryByLabelText('rooms')).toBeNull()
  })
})

describe('SlowConsumers', () => {
  it('lists who is slowest now, and who was dropped as slow and why, the latest first', () => {
    const { store } = renderWithStore(<SlowConsumers />)
    expect(screen.getByRole('region', { name: 'slowest sessions' }).textContent).toContain('No session has output waiting.')
    expect(screen.getByRole('region', { name: 'dropped as slow' }).textContent).toContain('None since the server started.')
    act(() => {
      store.getState().setServer(running())
      store.getState().pushMetrics(
        snapshot(Date.now(), {
          slowest: [slow(4, 'molasses', 20 << 20, 2500), slow(9, null, 1 << 20, null)],
          slowDrops: [
            { at: Date.now() - 2000, id: 2, nick: 'first', remote: '10.0.0.7:40002', listener: 'line:7000', reason: 'slow-consumer: 32MB pending' },
            { at: Date.now() - 1000, id: 3, nick: null, remote: '10.0.0.7:40003', listener: 'asio:7001', reason: 'slow-consumer: over the soft limit for 5 s' }
          ]
        })
      )
    })
    const slowest = within(screen.getByRole('region', { name: 'slowest sessions' })).getAllByRole('listitem')
    expect(slowest.map((li) => li.getAttribute('data-session'))).toEqual(['4', '9'])
    expect(slowest[0].textContent).toContain('#4 molasses 10.0.0.7:40004')
    expect(slowest[0].textContent).toContain('soft 2.5s')
    // A session without a nick (asio) is named by its codec.
    expect(slowest[1].textContent).toContain('#9 line 10.0.0.7:40009')
    // 20 MiB of the default 32 MiB hard limit, and half the soft grace used: near its limit.
    expect(slowest[0].querySelector('.pending')?.className).toContain('near-limit')
    expect(slowest[1].querySelector('.pending')?.className).not.toContain('near-limit')

    const drops = within(screen.getByRole('region', { name: 'dropped as slow' })).getAllByRole('listitem')
    expect(drops.map((li) => li.getAttribute('data-session'))).toEqual(['3', '2'])
    expect(drops[0].textContent).toContain('#3  10.0.0.7:40003 on asio:7001: slow-consumer: over the soft limit for 5 s')
    expect(drops[1].textContent).toContain('#2 first 10.0.0.7:40002 on line:7000: slow-consumer: 32MB pending')
  })
})
