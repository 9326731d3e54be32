// @vitest-environment happy-dom
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ChatClient } from '../../src/renderer/src/components/ChatClient'
import { EventLog } from '../../src/renderer/src/components/EventLog'
import { ServerCard } from '../../src/renderer/src/components/ServerCard'
import { SessionsTable } from '../../src/renderer/src/components/SessionsTable'
import { hashPassword } from '../../src/main/core/auth/password'
import { withUser } from '../../src/main/core/auth/users'
import { OPERATOR_REACH } from '../../src/main/host/reach'
import { TestCa } from '../../scripts/tls-certs'
import { joinLine, TestClient } from '../helpers'
import { DEFAULT_LIMITS } from '../../src/shared/contract'
import { renderWithHost, TEST_CONFIG, type Harness } from './harness'

let harness: Harness | undefined
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((undo) => undo()))
  await harness?.dispose()
  harness = undefined
})

async function runningPort(h: Harness): Promise<number> {
  await waitFor(() => expect(h.store.getState().server?.status).toBe('running'))
  return h.store.getState().server!.bound[0].port
}

describe('ServerCard', () => {
  it('starts and stops the server, and shows where it listens', async () => {
    harness = renderWithHost(<ServerCard />)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const port = await runningPort(harness)
    expect(screen.getByRole('list', { name: 'listening on' }).textContent).toContain(`line on 127.0.0.1:${port}`)
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
  })

  it('shows a start error clearly, e.g. a port in use', async () => {
    const blocker: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s))
    })
    cleanup.push(() => new Promise((resolve) => blocker.close(resolve)))
    const port = (blocker.address() as { port: number }).port
    harness = renderWithHost(<ServerCard />, { ...TEST_CONFIG, listeners: [{ codec: 'line', host: '127.0.0.1', port }], workers: 0 })
    await waitFor(() => expect(screen.getByRole('button', { name: 'Start' })).toBeTruthy())
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toMatch(/EADDRINUSE/)
    expect(screen.getByTestId('server-status').textContent).toBe('stopped')
  })
})

describe('ServerCard over TLS', () => {
  it('starts a listener ticked TLS, named tls+line where it listens; without a certificate says which flags it needs', async () => {
    harness = renderWithHost(<ServerCard />)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    fireEvent.click(screen.getByRole('checkbox', { name: 'TLS' }))
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toMatch(/listener tls\+line:\d+ needs a certificate and key \(--tls-cert, --tls-key\)/)
    expect(harness.host.serverState.config.listeners[0].tls).toBe(true)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
  })
})

describe('ServerCard under flood control', () => {
  it('shows how many messages were dropped for going over the rate', async () => {
    const config = { ...TEST_CONFIG, limits: { ...TEST_CONFIG.limits, maxRate: 100, rateBurst: 5 } }
    harness = renderWithHost(<ServerCard />, config)
    await act(() => harness!.host.startServer(config))
    const port = await runningPort(harness)
    const a = await joinLine(port)
    cleanup.push(() => a.c.close())
    a.c.client.sendRaw('PING\n'.repeat(30))
    await a.c.expect(/^ERR rate-limited /)
    await waitFor(() => expect(screen.getByTestId('rate-limited').textContent).toBe('25 dropped'))
  })
})

describe('ServerCard limits', () => {
  it('starts the server with the limits typed in the form: a rate typed there rate-limits', async () => {
    harness = renderWithHost(<ServerCard />)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    expect((screen.getByLabelText('max sessions') as HTMLInputElement).value).toBe(String(DEFAULT_LIMITS.maxSessions))
    fireEvent.change(screen.getByLabelText('msgs/s per session'), { target: { value: '100' } })
    fireEvent.change(screen.getByLabelText('rate burst'), { target: { value: '5' } })
    fireEvent.change(screen.getByLabelText('idle timeout (s)'), { target: { value: '1.5' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    const port = await runningPort(harness)
    expect(harness.host.serverState.config.limits).toEqual({ ...DEFAULT_LIMITS, maxRate: 100, rateBurst: 5, idleTimeoutMs: 1500 })
    // Running, the form shows what the server runs with.
    expect((screen.getByLabelText('idle timeout (s)') as HTMLInputElement).value).toBe('1.5')
    const a = await joinLine(port)
    cleanup.push(() => a.c.close())
    a.c.client.sendRaw('PING\n'.repeat(30))
    await a.c.expect(/^ERR rate-limited /)
    await waitFor(() => expect(screen.getByTestId('rate-limited').textContent).toBe('25 dropped'))
  })

  it('refuses a cleared field, or a timeout under a millisecond, rather than send it as 0 (no limit, never)', async () => {
    harness = renderWithHost(<ServerCard />)
    await waitFor(() => expect(screen.getByTestId('server-status').textContent).toBe('stopped'))
    fireEvent.change(screen.getByLabelText('msgs/s per session'), { target: { value: '' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/maxRate/)
    fireEvent.change(screen.getByLabelText('msgs/s per session'), { target: { value: '100' } })
    fireEvent.change(screen.getByLabelText('idle timeout (s)'), { target: { value: '0.0001' } })
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/idleTimeoutMs/))
    expect(harness.host.serverState.status).toBe('stopped')
  })
})

describe('SessionsTable', () => {
  // happy-dom does no layout: give the table's scroller the height CSS gives it in a browser, so the
  // virtualizer has a viewport to fill. (The real browser E2E covers the real layout.)
  beforeAll(() => {
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains('table-body') ? 300 : 0
      }
    })
  })

  it('lists live sessions, filters them, and kicks one', async () => {
    harness = renderWithHost(<SessionsTable />)
    await act(() => harness!.host.startServer(harness!.host.serverState.config))
    const port = await runningPort(harness)
    const a = await joinLine(port)
    const b = await joinLine(port)
    cleanup.push(() => a.c.close(), () => b.c.close())
    b.c.send('NICK zoe')
    await b.c.expect(`NICK ${b.nick} zoe`)
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('2'))
    await waitFor(() => expect(screen.getByText('zoe')).toBeTruthy())

    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: 'zoe' } })
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('1 of 2'))

    const row = document.querySelector(`[data-session="${b.id}"]`) as HTMLElement
    fireEvent.click(within(row).getByRole('button', { name: 'Kick' }))
    await b.c.expect('BYE kicked by the control panel')
    await b.c.closed()
    await a.c.expect('LEFT lobby zoe')
    // Still filtered by "zoe": the host's page now keeps none of the one session left.
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('0 of 1'))
    expect(harness.store.getState().sessionPage).toMatchObject({ matched: 0, total: 1, rows: [] })
    fireEvent.change(screen.getByLabelText('filter sessions'), { target: { value: '' } })
    await waitFor(() => expect(harness!.store.getState().sessionPage?.rows.map((s) => s.id)).toEqual([a.id]))
    expect(screen.getByTestId('session-count').textContent).toBe('1')
  })

  it('sorts on the server by the column clicked: most msgs/s, then oldest first', async () => {
    harness = renderWithHost(<SessionsTable />)
    await act(() => harness!.host.startServer(harness!.host.serverState.config))
    const port = await runningPort(harness)
    // One after another, so their ages differ and age orders them as they came.
    const clients: Awaited<ReturnType<typeof joinLine>>[] = []
    for (let i = 0; i < 3; i++) {
      clients.push(await joinLine(port))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    cleanup.push(...clients.map((c) => () => c.c.close()))
    const [oldest, middle, newest] = clients.map((c) => c.id)
    await waitFor(() => expect(screen.getByTestId('session-count').textContent).toBe('3'))
    const ids = () => [...document.querySelectorAll('[data-session]')].map((el) => Number(el.getAttribute('data-session')))
    const header = (name: RegExp) => screen.getByRole('columnheader', { name })
    // By output pending at first; only the host's four orders are buttons.
    expect(header(/^output pending/).textContent).toBe('output pending ▾')
    expect(header(/^output pending/).getAttribute('aria-sort')).toBe('descending')
    expect(header(/^id$/).tagName).toBe('SPAN')
    expect(header(/^nick/).getAttribute('aria-sort')).toBeNull()

    // The newest talks all the time: by msgs/s it comes first.
    const chatter = setInterval(() => clients[2].c.send('PING'), 5)
    cleanup.unshift(async () => clearInterval(chatter))
    fireEvent.click(header(/^msgs\/s/))
    expect(header(/^msgs\/s/).textContent).toBe('msgs/s ▾')
    expect(header(/^output pending/).getAttribute('aria-sort')).toBe('none')
    await waitFor(() => expect(ids()[0]).toBe(newest))
    expect(harness.store.getState().sessionPage?.query.sort).toBe('rate')

    fireEvent.click(header(/^age/))
    await waitFor(() => expect(ids()).toEqual([oldest, middle, newest]))
    expect(harness.store.getState().sessionPage?.query.sort).toBe('age')
    expect(header(/^age/).getAttribute('aria-sort')).toBe('descending')
  })

  it('shows the user a chat window logged in as, over TLS to a server started with users', async () => {
    const ca = TestCa.create()
    cleanup.push(async () => ca.remove())
    const { cert, key } = ca.issue('switchboard', 'server')
    const usersFile = join(ca.dir, 'users')
    // A cheap hash: the cost is in the hash, and the server takes whatever the file says.
    writeFileSync(usersFile, withUser('', usersFile, 'grace', hashPassword('correct horse', { ln: 4, r: 8, p: 1 })))
    const config = { ...TEST_CONFIG, listeners: [{ ...TEST_CONFIG.listeners[0], tls: true }] }
    harness = renderWithHost(
      <>
        <ChatClient />
        <SessionsTable />
      </>,
      config,
      { tls: { cert, key }, usersFile, authFailDelayMs: 0 }
    )
    await act(() => harness!.host.startServer(config))
    const port = await runningPort(harness)
    await waitFor(() => expect((screen.getByLabelText('server port') as HTMLInputElement).value).toBe(String(port)))
    // The server's own TLS listener: TLS is not the user's to forget.
    expect((screen.getByLabelText('TLS') as HTMLInputElement).checked).toBe(true)
    fireEvent.change(screen.getByLabelText('user'), { target: { value: 'grace' } })
    fireEvent.change(screen.getByLabelText('password'), { target: { value: 'correct horse' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('connected (TLS)'))
    // The window's state has the login, never its password.
    expect(harness.store.getState().client.config?.auth).toEqual({ user: 'grace', password: '' })
    const header = screen.getAllByRole('columnheader').map((h) => h.textContent)
    expect(header.slice(0, 3)).toEqual(['id', 'nick', 'user'])
    await waitFor(() => expect(harness!.store.getState().sessionPage?.rows.map((row) => row.user)).toEqual(['grace']))
    const row = screen.getByRole('table', { name: 'live sessions' }).querySelector('[data-session]') as HTMLElement
    expect(within(row).getAllByRole('cell')[2].textContent).toBe('grace')
  })
})

describe('ChatClient', () => {
  /** The chat client over a started server, connected as ada; returns the server's port. */
  async function connectedAsAda(): Promise<number> {
    harness = renderWithHost(<ChatClient />)
    await act(() => harness!.host.startServer(harness!.host.serverState.config))
    const port = await runningPort(harness)
    // The form follows the server's first listener until edited.
    await waitFor(() => expect((screen.getByLabelText('server port') as HTMLInputElement).value).toBe(String(port)))
    fireEvent.change(screen.getByLabelText('nick'), { target: { value: 'ada' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('connected'))
    return port
  }

  it('connects, chats, follows the room, and shows why it was dropped', async () => {
    const port = await connectedAsAda()

    const peer = await TestClient.connect({ port })
    cleanup.push(() => peer.close())
    await peer.expect(/^WELCOME /)
    await waitFor(() => expect(within(screen.getByRole('complementary', { name: 'members' })).getByText('ada')).toBeTruthy())
    peer.send('CHAT hello ada')
    fireEvent.change(screen.getByLabelText('message', { selector: 'input' }), { target: { value: 'hi peer' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    await peer.expect('MSG lobby ada hi peer')
    await waitFor(() => expect(screen.getByRole('list', { name: 'messages' }).textContent).toContain('MSG lobby ada hi peer'))
    expect(screen.getByRole('list', { name: 'messages' }).textContent).toContain('hello ada')

    await act(() => harness!.host.stopServer())
    // A server shutting down is waited for, not given up on.
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('reconnecting'))
    expect(screen.getByRole('list', { name: 'messages' }).textContent).toContain('BYE server-shutdown')
    fireEvent.click(screen.getByRole('button', { name: 'Disconnect' }))
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('closed'))
    expect(screen.getByTestId('client-reason').textContent).toBe('closed by you')
  })

  it('reconnects by itself when its server restarts, and says what it could not restore', async () => {
    const port = await connectedAsAda()
    fireEvent.change(screen.getByLabelText('message', { selector: 'input' }), { target: { value: 'hello' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    // The server tags it with its id (the client asked for ids); the window shows the line it tags.
    const texts = () => Array.from(screen.getByRole('list', { name: 'messages' }).querySelectorAll('.text')).map((t) => t.textContent)
    await waitFor(() => expect(texts()).toContain('MSG lobby ada hello'))
    expect(texts().filter((t) => t?.startsWith('@'))).toEqual([])

    await act(() => harness!.host.stopServer())
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('reconnecting'))
    expect(screen.getByTestId('client-retry').textContent).toMatch(/^reconnecting in \d+\.\d s… \(.+\)$/)
    expect((screen.getByRole('button', { name: 'Send' }) as HTMLButtonElement).disabled).toBe(true)

    await act(() => harness!.host.startServer({ ...TEST_CONFIG, listeners: [{ ...TEST_CONFIG.listeners[0], port }] }))
    await waitFor(() => expect(texts().some((t) => t?.startsWith('reconnected — history gap:'))).toBe(true), { timeout: 10_000 })
    expect(screen.getByTestId('client-status').textContent).toBe('connected')
    expect(screen.queryByTestId('client-retry')).toBeNull()
    // Said by the window, not the server: where the connection was lost, and what came back.
    const notices = Array.from(screen.getByRole('list', { name: 'messages' }).querySelectorAll('li.notice .text')).map((li) => li.textContent)
    expect(notices).toEqual([expect.stringMatching(/^connection lost \(closed by the server: server-shutdown\) — reconnecting$/), expect.stringMatching(/^reconnected — history gap:/)])
    // Back under the nick it had.
    await waitFor(() => expect(within(screen.getByRole('complementary', { name: 'members' })).getByText('ada')).toBeTruthy())
  })

  it('says so when the server refuses the connection', async () => {
    // As in the desktop app, whose window is the operator's: any target may be tried.
    harness = renderWithHost(<ChatClient />, TEST_CONFIG, {}, undefined, OPERATOR_REACH)
    const closed = createServer()
    const port: number = await new Promise((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)))
    await new Promise((resolve) => closed.close(resolve))
    fireEvent.change(screen.getByLabelText('server port'), { target: { value: String(port) } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    const reason = await screen.findByTestId('client-reason')
    expect(reason.textContent).toMatch(/ECONNREFUSED/)
  })

  it('says why the host will not connect to what is not its own server (browser mode)', async () => {
    harness = renderWithHost(<ChatClient />)
    fireEvent.change(screen.getByLabelText('server port'), { target: { value: '6379' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/127\.0\.0\.1:6379 is not one of this server's listeners .* --allow-target 127\.0\.0\.1:6379/)
  })
})

describe('EventLog', () => {
  it('shows connects and disconnects with their reason, filterable by kind', async () => {
    harness = renderWithHost(<EventLog />)
    await act(() => harness!.host.startServer(harness!.host.serverState.config))
    const port = await runningPort(harness)
    const a = await joinLine(port)
    a.c.send('QUIT bye now')
    await a.c.closed()
    await screen.findByText(/disconnected: quit: bye now/)
    fireEvent.change(screen.getByLabelText('event kind'), { target: { value: 'connect' } })
    await waitFor(() => expect(screen.queryByText(/disconnected: quit/)).toBeNull())
    expect(screen.getByText(/connected from 127\.0\.0\.1/)).toBeTruthy()
  })
})
