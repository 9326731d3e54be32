// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TrafficLab } from '../../src/renderer/src/components/TrafficLab'
import { createAppStore } from '../../src/renderer/src/store'
import { LOAD_RUNS_CAP } from '../../src/renderer/src/store/load-slice'
import { HISTORY_POINTS as LOAD_HISTORY_POINTS } from '../../src/renderer/src/store/series'
import type { SettingsStore } from '../../src/main/host/settings'
import { LOAD_DEFAULTS, type LoadConfig, type LoadProgress } from '../../src/shared/load'
import { freePort } from '../../scripts/asio-reference'
import { loadReport as report, stormReport } from '../telemetry-fixtures'
import { renderWithHost, renderWithStore, TEST_CONFIG, type Harness, type RecordedCall } from './harness'

/** What each chart (by its figure's title) was last given: happy-dom has no canvas for the real uPlot to draw on. */
const chartData = vi.hoisted(() => new Map<string, number[][]>())
vi.mock('uplot', () => ({
  default: class FakePlot {
    private readonly title: string
    constructor(_options: unknown, data: number[][], element: HTMLElement) {
      this.title = element.closest('figure')?.getAttribute('aria-label') ?? ''
      this.setData(data)
    }
    setData(data: number[][]): void {
      chartData.set(this.title, data)
    }
    setSize(): void {}
    destroy(): void {}
  }
}))

let harness: Harness | undefined

afterEach(async () => {
  vi.restoreAllMocks()
  await harness?.dispose()
  harness = undefined
  // What renderWithStore rendered (a harness unmounts its own).
  cleanup()
})

/** A run against a live server takes a second or two; the agents are real processes. */
const RUN_TIMEOUT = { timeout: 15_000 }

const field = (label: string) => screen.getByLabelText(label) as HTMLInputElement | HTMLSelectElement
const setField = (label: string, value: string) => fireEvent.change(field(label), { target: { value } })

async function startBuiltInServer(h: Harness): Promise<number> {
  await act(() => h.host.startServer(h.host.serverState.config))
  await waitFor(() => expect(h.store.getState().server?.status).toBe('running'))
  const port = h.store.getState().server!.bound[0].port
  // The form targets the built-in server's first listener by itself.
  await waitFor(() => expect(field('target').value).toBe('listener:0'))
  expect(within(field('target')).getByRole('option', { name: `built-in server: line on 127.0.0.1:${port}` })).toBeTruthy()
  return port
}

const RESUME = 'clients resume after a lost connection (CAP ids + RESUME)'
const STORM = 'reconnect storm after (s)'

const runColumns = () => within(screen.getByRole('table', { name: 'earlier runs' })).getAllByRole('columnheader').filter((th) => th.hasAttribute('data-run'))

describe('TrafficLab against the real host', () => {
  it('runs for the whole duration given: a duration typed over an untouched message count means no count', async () => {
    harness = renderWithHost(<TrafficLab />)
    await startBuiltInServer(harness)
    expect(field('messages per client').value).toBe(String(LOAD_DEFAULTS.messages))
    setField('mode', 'open')
    setField('duration (s)', '0.5')
    expect(field('messages per client').value).toBe('0')
    setField('clients', '2')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByTestId('load-outcome').textContent).toBe('complete'), RUN_TIMEOUT)
    expect(harness.store.getState().loadRuns[0].config).toMatchObject({ mode: 'open', messages: 0, durationMs: 500 })

    // A count the user typed stays: then it is "whichever comes first", as asked.
    setField('messages per client', '7')
    setField('duration (s)', '3')
    expect(field('messages per client').value).toBe('7')
  })

  it('runs a small load on the built-in server, reports it, compares runs and exports the report', async () => {
    harness = renderWithHost(<TrafficLab />)
    const port = await startBuiltInServer(harness)
    expect(screen.getByText('No run yet.')).toBeTruthy()

    setField('clients', '5')
    setField('messages per client', '20')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByTestId('load-outcome').textContent).toBe('complete'), RUN_TIMEOUT)
    expect(screen.getByTestId('load-status').textContent).toBe('idle')
    // A broadcast in one lobby: each of 5 clients' 20 messages reaches all 5 members, the sender included.
    expect(screen.getByTestId('load-deliveries').textContent).toBe('500 / 500')
    const [first] = harness.store.getState().loadRuns
    expect(first.config).toMatchObject({ targets: [{ host: '127.0.0.1', port }], codec: 'line', clients: 5, messages: 20, mode: 'closed' })
    // The live part was fed while it ran: the progress line and the charts' columns.
    expect(screen.getByTestId('load-progress').textContent).toContain(`run #${first.runId}`)
    const history = harness.store.getState().loadHistory
    expect(history.runId).toBe(first.runId)
    expect(history.time.length).toBeGreaterThan(0)
    expect(history.open).toHaveLength(history.time.length)
    for (const title of ['Deliveries per second', 'Latency p99', 'Open connections']) {
      expect(within(screen.getByRole('region', { name: 'traffic lab' })).getByRole('figure', { name: title })).toBeTruthy()
      expect(chartData.get(title)?.[0]).toEqual(history.time)
    }
    expect(Math.max(...chartData.get('Open connections')![1])).toBe(5)
    expect(Math.max(...chartData.get('Deliveries per second')![1])).toBeGreaterThan(0)
    expect(runColumns()).toHaveLength(1)

    // A second run with another knob turned stands next to the first.
    setField('clients', '3')
    setField('mode', 'open')
    setField('msgs/s per client', '200')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(runColumns()).toHaveLength(2), RUN_TIMEOUT)
    const second = harness.store.getState().loadRuns[1]
    expect(second.config).toMatchObject({ clients: 3, mode: 'open', rate: 200 })
    expect(screen.getByTestId('load-outcome').textContent).toBe('complete')
    expect(runColumns().map((th) => th.textContent)).toEqual([`#${first.runId}`, `#${second.runId}`])
    const table = screen.getByRole('table', { name: 'earlier runs' })
    expect(within(table).getByRole('row', { name: /^mode/ }).textContent).toContain('open, 200/s each')

    // Export hands the browser the report itself, as JSON.
    let exported: Blob | undefined
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      exported = blob as Blob
      return 'blob:traffic-lab-test'
    })
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {})
    fireEvent.click(screen.getByRole('button', { name: 'Export JSON' }))
    expect(click).toHaveBeenCalledTimes(1)
    const link = click.mock.contexts[0] as HTMLAnchorElement
    expect(link.download).toBe(`switchboard-load-run-${second.runId}.json`)
    expect(exported?.type).toBe('application/json')
    expect(JSON.parse(await exported!.text())).toEqual(second)
  }, 40_000)

  it('halts a run that has no end of its own, and still shows its report', async () => {
    harness = renderWithHost(<TrafficLab />)
    await startBuiltInServer(harness)
    setField('clients', '4')
    setField('messages per client', '0')
    setField('duration (s)', '30')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByTestId('load-progress').textContent).toContain('sending'), RUN_TIMEOUT)
    expect(screen.getByTestId('load-status').textContent).toBe('running')
    expect((screen.getByRole('button', { name: 'Run load' }) as HTMLButtonElement).disabled).toBe(true)
    expect(screen.getByLabelText('clients').closest('fieldset')?.disabled).toBe(true)
    fireEvent.click(screen.getByRole('button', { name: 'Halt load' }))
    await screen.findByTestId('load-outcome', {}, RUN_TIMEOUT)
    const [report] = harness.store.getState().loadRuns
    expect(report.config.durationMs).toBe(30_000)
    expect(report.durationMs).toBeLessThan(30_000)
    expect(screen.getByTestId('load-status').textContent).toBe('idle')
  }, 40_000)

  it('shows why the host refused a run, and starts nothing', async () => {
    harness = renderWithHost(<TrafficLab />)
    await startBuiltInServer(harness)
    setField('clients', '0')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/clients must be a whole number/)
    expect(screen.getByTestId('load-status').textContent).toBe('idle')

    // A custom target off this machine needs the explicit checkbox, even as one of several.
    setField('clients', '5')
    setField('target', 'custom')
    setField('targets', '127.0.0.1:7000, 192.0.2.1:7000')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/host 192\.0\.2\.1 is not on this machine/))

    // What is not host:port at all is named before anything is sent.
    setField('targets', '127.0.0.1:7000, 127.0.0.1')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/"127\.0\.0\.1" is not host:port/))
    expect(harness.host.loadRuns).toEqual([])
  })

  it('spreads a run over several targets typed in, and reports each one', async () => {
    // Two listeners of the built-in server: one room behind two addresses, as the nodes of a cluster are.
    const twoListeners = { ...TEST_CONFIG, listeners: [0, 1].map(() => ({ codec: 'line' as const, host: '127.0.0.1', port: 0 })) }
    harness = renderWithHost(<TrafficLab />, twoListeners)
    await startBuiltInServer(harness)
    const [a, b] = harness.store.getState().server!.bound.map((l) => l.port)
    setField('target', 'custom')
    setField('targets', `127.0.0.1:${a}, 127.0.0.1:${b}`)
    setField('clients', '5')
    setField('messages per client', '10')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByTestId('load-outcome').textContent).toBe('complete'), RUN_TIMEOUT)
    const [run] = harness.store.getState().loadRuns
    expect(run.config.targets).toEqual([{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }])
    // Clients 0, 2, 4 on the first, 1 and 3 on the second; each gets all 5 × 10 messages of the lobby.
    expect(run.targets.map((t) => [t.clients, t.connected, t.deliveries])).toEqual([[3, 3, 150], [2, 2, 100]])
    expect(screen.getByTestId('load-deliveries').textContent).toBe('250 / 250')
    expect(screen.getByTestId('load-order').textContent).toBe('one order in each of 1 room')
    const perTarget = screen.getByRole('table', { name: 'per target' })
    expect(within(perTarget).getByRole('row', { name: new RegExp(`^127\\.0\\.0\\.1:${b}`) }).textContent).toContain('2 / 2')
    const earlier = screen.getByRole('table', { name: 'earlier runs' })
    expect(within(earlier).getByRole('row', { name: /^target/ }).textContent).toContain(`127.0.0.1:${a}, 127.0.0.1:${b}`)
  }, 40_000)
})

describe('TrafficLab after a relaunch', () => {
  /** Settings as an earlier launch left them; what this launch saves is not the point here. */
  const keptLoad = (load: LoadConfig): SettingsStore => ({ kept: { version: 1, server: TEST_CONFIG, load }, problem: null, save: async () => null })

  it('starts from the form of the last run, a target no listener has as a custom one', async () => {
    const load: LoadConfig = {
      ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7999 }, { host: '::1', port: 7998 }], clients: 7, mode: 'open', rate: 30, messages: 0,
      durationMs: 2500, size: 48, roomSize: 7, timeoutMs: 9000, resume: true, stormAfterMs: 1500
    }
    harness = renderWithHost(<TrafficLab />, TEST_CONFIG, {}, keptLoad(load))
    await waitFor(() => expect(field('clients').value).toBe('7'))
    expect(field('target').value).toBe('custom')
    expect(field('targets').value).toBe('127.0.0.1:7999, [::1]:7998')
    expect(field('mode').value).toBe('open')
    expect(field('msgs/s per client').value).toBe('30')
    expect(field('messages per client').value).toBe('0')
    expect(field('duration (s)').value).toBe('2.5')
    expect(field('size (bytes)').value).toBe('48')
    expect(field('room size').value).toBe('7')
    expect(field('timeout (s)').value).toBe('9')
    expect((field(RESUME) as HTMLInputElement).checked).toBe(true)
    expect(field(STORM).value).toBe('1.5')
  })

  it('points at the built-in server\'s listener when the last run did, and runs it again as it was', async () => {
    // The second of two listeners, so following the first listener (the form's default) would miss it.
    const port = await freePort()
    const config = { ...TEST_CONFIG, listeners: [{ codec: 'line' as const, host: '127.0.0.1', port: 0 }, { codec: 'line' as const, host: '127.0.0.1', port }] }
    const load: LoadConfig = { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port }], clients: 3, messages: 4, size: 32, timeoutMs: 5000 }
    harness = renderWithHost(<TrafficLab />, config, {}, keptLoad(load))
    await waitFor(() => expect(field('clients').value).toBe('3'))
    // Before the server runs, the address is all there is.
    expect(field('target').value).toBe('custom')
    await act(() => harness!.host.startServer(config))
    await waitFor(() => expect(field('target').value).toBe('listener:1'))
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(screen.getByTestId('load-outcome').textContent).toBe('complete'), RUN_TIMEOUT)
    expect(harness.store.getState().loadRuns[0].config).toEqual(load)
  }, 40_000)

  it('restores the user of the last run but not its password, and will not run as that user until it is typed', async () => {
    // As the host keeps it: the password left out.
    const load: LoadConfig = { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7999 }], clients: 4, auth: { user: 'loadtester', password: '' } }
    harness = renderWithHost(<TrafficLab />, TEST_CONFIG, {}, keptLoad(load))
    await waitFor(() => expect(field('user').value).toBe('loadtester'))
    expect(field('password').value).toBe('')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    expect((await screen.findByRole('alert')).textContent).toBe('password: needed to log in as loadtester (passwords are never kept: type it again)')
    expect(harness.host.loadRuns).toEqual([])
    expect(screen.getByTestId('load-status').textContent).toBe('idle')
  })
})

/** The configs the form sent, as the host received them. */
const started = (calls: RecordedCall[]) => calls.filter((c) => c.call === 'startLoad').map((c) => c.args[0] as LoadConfig)

/** What a definition list says for a term (the summary's figures are dt/dd pairs). */
function definition(region: HTMLElement, term: string): HTMLElement {
  const dt = within(region).getByText(term, { selector: 'dt' })
  return dt.nextElementSibling as HTMLElement
}

describe('TrafficLab with resuming clients', () => {
  it('sends resume and a reconnect storm only for the line protocol, the storm only with resume', async () => {
    const { store, calls } = renderWithStore(<TrafficLab />)
    const resume = field(RESUME) as HTMLInputElement
    expect(resume.checked).toBe(false)
    expect(field(STORM).disabled).toBe(true)
    expect(field(STORM).closest('[title]')?.getAttribute('title')).toMatch(/restarts its own server/)
    fireEvent.click(resume)
    expect(field(STORM).disabled).toBe(false)
    setField(STORM, '1.5')

    // asio has no message ids: neither is offered, and neither is sent, whatever the line form had.
    setField('target codec', 'asio')
    expect(resume.disabled).toBe(true)
    expect(resume.checked).toBe(false)
    expect(field(STORM).disabled).toBe(true)
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(started(calls)).toHaveLength(1))
    expect(started(calls)[0]).toMatchObject({ codec: 'asio', resume: false, stormAfterMs: 0 })
    act(() => store.getState().addLoadReport(report(1)))

    // Back on the line protocol, what was typed is there again, and sent.
    setField('target codec', 'line')
    expect(resume.checked).toBe(true)
    expect(field(STORM).value).toBe('1.5')
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(started(calls)).toHaveLength(2))
    expect(started(calls)[1]).toMatchObject({ codec: 'line', resume: true, stormAfterMs: 1500 })
    act(() => store.getState().addLoadReport(report(2)))

    // Unchecked, a storm typed earlier is not sent: it needs resuming clients.
    fireEvent.click(resume)
    expect(field(STORM).disabled).toBe(true)
    fireEvent.click(screen.getByRole('button', { name: 'Run load' }))
    await waitFor(() => expect(started(calls)).toHaveLength(3))
    expect(started(calls)[2]).toMatchObject({ resume: false, stormAfterMs: 0 })
  })

  it('reports the reconnect storm: what was made, what came back, duplicates in red, and compares it across runs', () => {
    const { store } = renderWithStore(<TrafficLab />)
    const resuming = { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7000 }], resume: true, stormAfterMs: 2000 }
    act(() => store.getState().addLoadReport(report(1)))
    // Clients that did not resume have no storm to tell, and the runs table no rows for it.
    expect(screen.queryByRole('region', { name: 'reconnect storm' })).toBeNull()
    expect(within(screen.getByRole('table', { name: 'earlier runs' })).queryByRole('row', { name: /^resumed \/ lost/ })).toBeNull()

    act(() => store.getState().addLoadReport(report(2, { config: resuming, storm: stormReport({ resumed: 1998, unresumed: 2, duplicates: 4 }) })))
    const storm = screen.getByRole('region', { name: 'reconnect storm' })
    expect(within(storm).getByRole('heading').textContent).toBe('Reconnect storm')
    expect(definition(storm, 'storm').textContent).toBe('server restarted in 130 ms')
    expect(definition(storm, 'resumed / lost').textContent).toBe('1,998 / 2,000')
    expect(definition(storm, 'unresumed').textContent).toBe('2')
    expect(definition(storm, 'recovered messages').textContent).toBe('12,345')
    expect(definition(storm, 'gaps (history gone)').textContent).toBe('0')
    expect(definition(storm, 'duplicates').textContent).toBe('4')
    expect(definition(storm, 'duplicates').querySelector('.error')).not.toBeNull()
    expect(definition(storm, 'lost in flight').textContent).toBe('3')
    expect(definition(storm, 'time to recover p50 / p99').textContent).toBe('210 ms / 1840 ms')
    const table = screen.getByRole('table', { name: 'earlier runs' })
    expect(within(table).getByRole('row', { name: /^resumed \/ lost/ }).textContent).toBe('resumed / lost–2K / 2K')
    expect(within(table).getByRole('row', { name: /^recover p99/ }).textContent).toBe('recover p99–1840 ms')
    expect(within(within(table).getByRole('row', { name: /^duplicates/ })).getByText('4').className).toBe('error')

    // Resuming clients without a storm: what they lost is said, nothing twice is not red, no resume no time.
    act(() => store.getState().addLoadReport(report(3, { config: resuming, storm: stormReport({ made: null, lost: 1, resumed: 0, unresumed: 1, recovered: 0, lostInFlight: 0, recoverMs: report(3).latencyMs }) })))
    const quiet = screen.getByRole('region', { name: 'reconnect storm' })
    expect(definition(quiet, 'storm').textContent).toBe('no storm made; 1 connection lost')
    expect(definition(quiet, 'duplicates').querySelector('.error')).toBeNull()
    expect(definition(quiet, 'time to recover p50 / p99').textContent).toBe('– / –')
  })
})

describe('TrafficLab logging in', () => {
  const run = () => fireEvent.click(screen.getByRole('button', { name: 'Run load' }))

  it('sends the user and password for the line protocol, none for asio, and refuses a user without a password', async () => {
    const { store, calls } = renderWithStore(<TrafficLab />)
    expect((field('password') as HTMLInputElement).type).toBe('password')
    setField('user', ' loadtester ')
    run()
    expect((await screen.findByRole('alert')).textContent).toBe('password: needed to log in as loadtester (passwords are never kept: type it again)')
    expect(started(calls)).toEqual([])

    // The password as typed, spaces and all; the user name trimmed.
    setField('password', ' pass word')
    run()
    await waitFor(() => expect(started(calls)).toHaveLength(1))
    expect(started(calls)[0]).toMatchObject({ codec: 'line', auth: { user: 'loadtester', password: ' pass word' } })
    expect(screen.queryByRole('alert')).toBeNull()
    act(() => store.getState().addLoadReport(report(1)))

    // Asio has no login: the fields are not offered, and what they hold is not sent.
    setField('target codec', 'asio')
    expect(field('user').disabled).toBe(true)
    expect(field('password').disabled).toBe(true)
    run()
    await waitFor(() => expect(started(calls)).toHaveLength(2))
    expect(started(calls)[1]).toMatchObject({ codec: 'asio', auth: null })
    act(() => store.getState().addLoadReport(report(2)))

    // No user: no login, whatever the password field holds.
    setField('target codec', 'line')
    setField('user', '')
    run()
    await waitFor(() => expect(started(calls)).toHaveLength(3))
    expect(started(calls)[2]).toMatchObject({ codec: 'line', auth: null })
  })
})

function progress(runId: number, elapsedMs: number, p99Ms: number | null = 1): LoadProgress {
  return {
    runId, elapsedMs, phase: 'sending', open: 5, sent: 0, deliveries: 0, expected: 10, sentPerSec: 1, deliveriesPerSec: 2,
    p99Ms, p99SoFarMs: p99Ms, errors: 0
  }
}

describe('the load slice', () => {
  it('keeps a bounded history of one run, as uPlot columns, and starts over for the next run', () => {
    const store = createAppStore()
    for (let i = 0; i < LOAD_HISTORY_POINTS + 5; i++) store.getState().pushLoadProgress(progress(1, 250 * i, i === 0 ? null : 3))
    const { loadHistory, loadRunId } = store.getState()
    expect(loadRunId).toBe(1)
    expect(loadHistory.time).toHaveLength(LOAD_HISTORY_POINTS)
    expect(loadHistory.deliveriesPerSec).toHaveLength(LOAD_HISTORY_POINTS)
    expect(loadHistory.time.at(-1)! - loadHistory.time[0]).toBeCloseTo(((LOAD_HISTORY_POINTS - 1) * 250) / 1000)
    store.getState().loadStarted(2)
    expect(store.getState().loadHistory.time).toEqual([])
    expect(store.getState().loadProgress).toBeNull()
    store.getState().pushLoadProgress(progress(2, 0, null))
    // No echo in the interval: a gap in the chart, not a p99 of zero.
    expect(store.getState().loadHistory.p99Ms).toEqual([null])
  })

  it('keeps the newest reports once each, and ends the run its report belongs to', () => {
    const store = createAppStore()
    store.getState().loadStarted(1)
    store.getState().addLoadReport(report(1))
    expect(store.getState().loadRunId).toBeNull()
    // getLoadRuns can answer after the event brought the same report.
    store.getState().mergeLoadRuns([report(1)])
    expect(store.getState().loadRuns.map((r) => r.runId)).toEqual([1])
    for (let id = 2; id <= LOAD_RUNS_CAP + 3; id++) store.getState().addLoadReport(report(id))
    const ids = store.getState().loadRuns.map((r) => r.runId)
    expect(ids).toHaveLength(LOAD_RUNS_CAP)
    expect(ids[0]).toBe(4)
  })

  it('does not take a run for running when its report came before startLoad answered', () => {
    const store = createAppStore()
    store.getState().addLoadReport(report(7))
    store.getState().loadStarted(7)
    store.getState().pushLoadProgress(progress(7, 100))
    expect(store.getState().loadRunId).toBeNull()
  })
})
