// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { App } from '../../src/renderer/src/App'
import { ChatClient } from '../../src/renderer/src/components/ChatClient'
import type { ClientConfig, ServerState } from '../../src/shared/contract'
import { renderWithHost, renderWithStore, TEST_CONFIG, type Harness, type RecordedCall } from './harness'

let harness: Harness | undefined
afterEach(async () => {
  await harness?.dispose()
  harness = undefined
  // What renderWithStore rendered (a harness unmounts its own).
  cleanup()
})

describe('a client window', () => {
  it('is titled with its nick and server, and follows a new nick', async () => {
    harness = renderWithHost(<App view="client" />)
    expect(document.title).toBe('Switchboard client')
    await act(() => harness!.host.startServer(harness!.host.serverState.config))
    const port = harness.host.serverState.bound[0].port
    await waitFor(() => expect((screen.getByLabelText('server port') as HTMLInputElement).value).toBe(String(port)))
    fireEvent.change(screen.getByLabelText('nick'), { target: { value: 'ada' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    await waitFor(() => expect(document.title).toBe(`ada @ 127.0.0.1:${port}`))
    fireEvent.click(screen.getByRole('button', { name: 'Disconnect' }))
    await waitFor(() => expect(screen.getByTestId('client-status').textContent).toBe('closed'))
    fireEvent.change(screen.getByLabelText('nick'), { target: { value: 'grace' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    await waitFor(() => expect(document.title).toBe(`grace @ 127.0.0.1:${port}`))
  })
})

describe('a client window\'s connection: TLS and a login', () => {
  /** The built-in server with a TLS listener first (the one the form follows) and a plaintext one. */
  const SERVER: ServerState = {
    status: 'running',
    config: TEST_CONFIG,
    bound: [
      { codec: 'line', host: '127.0.0.1', port: 7443, name: 'tls+line:7443', tls: true },
      { codec: 'line', host: '127.0.0.1', port: 7000, name: 'line:7000' }
    ],
    startedAt: Date.now(),
    error: null
  }
  /** The configs the window sent, as the host received them. */
  const connects = (calls: RecordedCall[]) => calls.filter((c) => c.call === 'connectClient').map((c) => c.args[0] as ClientConfig)
  const input = (label: string) => screen.getByLabelText(label) as HTMLInputElement
  const setInput = (label: string, value: string) => fireEvent.change(input(label), { target: { value } })
  const connect = () => fireEvent.click(screen.getByRole('button', { name: 'Connect' }))

  it('goes over TLS to a TLS listener of its own server, as bound there, and elsewhere as ticked', async () => {
    const { store, calls } = renderWithStore(<ChatClient />)
    act(() => store.getState().setServer(SERVER))
    await waitFor(() => expect(input('server port').value).toBe('7443'))
    // The listener decides, not the user: the host would refuse anything else.
    expect(input('TLS').checked).toBe(true)
    expect(input('TLS').disabled).toBe(true)
    connect()
    await waitFor(() => expect(connects(calls)).toHaveLength(1))
    expect(connects(calls)[0]).toEqual({ host: '127.0.0.1', port: 7443, codec: 'line', tls: true, auth: null })
    act(() => store.getState().setClient({ status: 'connected', config: connects(calls)[0], reason: null, retryInMs: null }))
    expect(screen.getByTestId('client-status').textContent).toBe('connected (TLS)')
    act(() => store.getState().setClient({ status: 'closed', config: connects(calls)[0], reason: 'closed by you', retryInMs: null }))
    expect(screen.getByTestId('client-status').textContent).toBe('closed')

    setInput('server port', '7000')
    expect(input('TLS').checked).toBe(false)
    expect(input('TLS').disabled).toBe(true)
    connect()
    await waitFor(() => expect(connects(calls)).toHaveLength(2))
    expect(connects(calls)[1]).toMatchObject({ port: 7000, tls: false })
    act(() => store.getState().setClient({ status: 'connected', config: connects(calls)[1], reason: null, retryInMs: null }))
    expect(screen.getByTestId('client-status').textContent).toBe('connected')
    act(() => store.getState().setClient({ status: 'closed', config: connects(calls)[1], reason: 'closed by you', retryInMs: null }))

    // Another server's address: TLS is the user's to choose.
    setInput('server port', '6697')
    expect(input('TLS').disabled).toBe(false)
    expect(input('TLS').checked).toBe(false)
    fireEvent.click(input('TLS'))
    connect()
    await waitFor(() => expect(connects(calls)).toHaveLength(3))
    expect(connects(calls)[2]).toEqual({ host: '127.0.0.1', port: 6697, codec: 'line', tls: true, auth: null })
  })

  it('logs in as the user typed, with its password, on the line protocol only, and refuses a user without one', async () => {
    const { calls } = renderWithStore(<ChatClient />)
    expect(input('password').type).toBe('password')
    setInput('user', 'ada')
    connect()
    expect((await screen.findByRole('alert')).textContent).toBe('password: needed to log in as ada (passwords are never kept: type it again)')
    expect(connects(calls)).toEqual([])

    setInput('password', 'correct horse')
    connect()
    await waitFor(() => expect(connects(calls)).toHaveLength(1))
    expect(connects(calls)[0]).toEqual({ host: '127.0.0.1', port: 7000, codec: 'line', tls: false, auth: { user: 'ada', password: 'correct horse' } })
    expect(screen.queryByRole('alert')).toBeNull()

    // Asio has no login: the fields are not offered, and what they hold is not sent.
    fireEvent.change(screen.getByLabelText('client codec'), { target: { value: 'asio' } })
    expect(input('user').disabled).toBe(true)
    expect(input('password').disabled).toBe(true)
    connect()
    await waitFor(() => expect(connects(calls)).toHaveLength(2))
    expect(connects(calls)[1]).toMatchObject({ codec: 'asio', auth: null })
  })
})
