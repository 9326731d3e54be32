// @vitest-environment happy-dom
import { act, fireEvent, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { App } from '../../src/renderer/src/App'
import { renderWithHost, type Harness } from './harness'

let harness: Harness | undefined
afterEach(async () => {
  await harness?.dispose()
  harness = undefined
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
