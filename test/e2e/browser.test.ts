// End to end in a real browser: Debian's chromium, driven by playwright-core, against browser mode.
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { waitFor } from '../helpers'
import { CHROMIUM_ARGS } from './chromium'

let cli: ChildProcess
let browser: Browser
let url: string

beforeAll(async () => {
  cli = spawn(process.execPath, [resolve('out/main/cli.js'), 'serve', '--listen', 'line:0', '--web', '0', '--status-ms', '0'], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  cli.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  await waitFor('the control room URL', () => /control room at (\S+)/.test(output))
  url = /control room at (\S+)/.exec(output)![1]
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
}, 30_000)

afterAll(async () => {
  await browser?.close()
  cli?.kill('SIGINT')
})

async function openClientWindow(panel: Page, nick: string): Promise<Page> {
  const [page] = await Promise.all([panel.context().waitForEvent('page'), panel.getByRole('button', { name: 'Open client window' }).click()])
  await page.waitForLoadState()
  await expect.poll(() => page.getByLabel('server port').inputValue()).not.toBe('7000')
  await page.getByLabel('nick').fill(nick)
  await page.getByRole('button', { name: 'Connect' }).click()
  await page.getByTestId('client-status').filter({ hasText: 'connected' }).waitFor()
  return page
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'message', exact: true }).fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
}

const chats = async (page: Page) =>
  (await page.getByRole('list', { name: 'messages' }).locator('.text').allTextContents()).filter((t) => t.startsWith('MSG '))

describe('the control room in a browser', () => {
  it('starts the server, serves two client windows, shows and kicks their sessions, stops', async () => {
    const panel = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const errors: string[] = []
    panel.on('pageerror', (error) => errors.push(error.message))
    // Every request the page makes is answered (no favicon 404), and its text comes compressed.
    const failed: string[] = []
    const encodings = new Map<string, string | undefined>()
    panel.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`)
      if (response.url().endsWith('.js')) encodings.set(response.url(), response.headers()['content-encoding'])
    })
    await panel.goto(url)
    const status = panel.getByTestId('server-status')
    await status.filter({ hasText: 'running' }).waitFor()
    // The charts and the sessions table arrive as chunks of their own, after the page.
    await panel.getByRole('table', { name: 'live sessions' }).waitFor()
    await panel.getByRole('figure', { name: 'Messages per second' }).locator('canvas').waitFor()
    expect(encodings.size).toBeGreaterThan(1)
    for (const [script, encoding] of encodings) expect(['br', 'gzip'], script).toContain(encoding)

    // Restart it from the UI, with the logic inline this time.
    await panel.getByRole('button', { name: 'Stop' }).click()
    await status.filter({ hasText: 'stopped' }).waitFor()
    await expect.poll(() => panel.getByRole('region', { name: 'event log' }).textContent()).toContain('server stopped')
    await panel.getByLabel('workers').fill('0')
    await panel.getByRole('button', { name: 'Start' }).click()
    await status.filter({ hasText: 'running' }).waitFor()
    await expect.poll(() => panel.getByText('inline ·').count()).toBe(1)
    // The server's own uptime: never below zero, whatever this page's clock says.
    expect(await panel.getByTestId('uptime').textContent()).toMatch(/^up \d[^-]*$/)

    const alice = await openClientWindow(panel, 'alice')
    const bob = await openClientWindow(panel, 'bob')
    for (const text of ['one', 'two', 'three']) await say(alice, text)
    for (const text of ['uno', 'dos']) await say(bob, text)
    const expected = ['MSG lobby alice one', 'MSG lobby alice two', 'MSG lobby alice three', 'MSG lobby bob uno', 'MSG lobby bob dos']
    await expect.poll(() => chats(bob)).toEqual(expected)
    await expect.poll(() => chats(alice)).toEqual(expected)
    await expect.poll(() => alice.getByRole('complementary', { name: 'members' }).locator('li').allTextContents()).toEqual(['alice', 'bob'])

    const rows = panel.getByRole('table', { name: 'live sessions' }).getByRole('row')
    await expect.poll(() => rows.count()).toBe(2)
    // The host's page of sessions, sorted by it: most output pending first.
    expect(await panel.getByTestId('page-rows').textContent()).toBe('1–2 of 2')
    expect(await panel.getByRole('columnheader', { name: /^output pending/ }).getAttribute('aria-sort')).toBe('descending')
    const bobRow = rows.filter({ hasText: 'bob' })
    await expect.poll(() => bobRow.count()).toBe(1)
    await bobRow.getByRole('button', { name: 'Kick' }).click()
    await bob.getByTestId('client-status').filter({ hasText: 'closed' }).waitFor()
    await expect.poll(async () => (await bob.getByRole('list', { name: 'messages' }).textContent()) ?? '').toContain('BYE kicked by the control panel')
    // Said where the window says why it is closed, not only in the scrollback.
    expect(await bob.getByTestId('client-reason').textContent()).toBe('closed by the server: kicked by the control panel')
    await expect.poll(() => rows.count()).toBe(1)
    await expect.poll(() => chats(alice).then(() => alice.getByRole('list', { name: 'messages' }).textContent())).toContain('LEFT lobby bob')
    await expect.poll(() => panel.getByRole('region', { name: 'event log' }).textContent()).toContain('kicked: by the control panel')

    // The windows asked for ids: every MSG came tagged (`@id=... MSG ...`) and is shown as the line it tags.
    expect(await alice.getByRole('list', { name: 'messages' }).getByText(/^@id=/).count()).toBe(0)

    await panel.getByRole('button', { name: 'Stop' }).click()
    await status.filter({ hasText: 'stopped' }).waitFor()
    // A server shutting down is waited for: the window says it is reconnecting, when, and why.
    await alice.getByTestId('client-status').filter({ hasText: 'reconnecting' }).waitFor()
    expect(await alice.getByTestId('client-retry').textContent()).toMatch(/^reconnecting in \d+\.\d s… \(.+\)$/)
    await alice.getByRole('button', { name: 'Disconnect' }).click()
    await alice.getByTestId('client-status').filter({ hasText: 'closed' }).waitFor()
    expect(await alice.getByTestId('client-reason').textContent()).toBe('closed by you')
    expect(errors).toEqual([])
    expect(failed).toEqual([])
  }, 60_000)

  it('runs a small load from the traffic lab against the built-in server, with live charts and a summary', async () => {
    const panel = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const errors: string[] = []
    panel.on('pageerror', (error) => errors.push(error.message))
    await panel.goto(url)
    // The host sends its state, then its log backlog, when a page attaches: once the log shows, the status
    // badge is the server's and not the page's default. (The test before this one leaves it stopped.)
    await expect.poll(() => panel.getByRole('region', { name: 'event log' }).locator('li').count()).toBeGreaterThan(0)
    const status = panel.getByTestId('server-status')
    if ((await status.textContent()) === 'stopped') await panel.getByRole('button', { name: 'Start', exact: true }).click()
    await status.filter({ hasText: 'running' }).waitFor()

    const lab = panel.getByRole('region', { name: 'traffic lab', exact: true })
    await expect.poll(() => lab.getByLabel('target', { exact: true }).inputValue()).toBe('listener:0')
    // A duration typed over the untouched message count runs for the duration: the count shows 0.
    await lab.getByLabel('duration (s)', { exact: true }).fill('2')
    expect(await lab.getByLabel('messages per client', { exact: true }).inputValue()).toBe('0')
    await lab.getByLabel('duration (s)', { exact: true }).fill('0')
    await lab.getByLabel('clients', { exact: true }).fill('5')
    await lab.getByLabel('messages per client', { exact: true }).fill('20')
    await lab.getByRole('button', { name: 'Run load', exact: true }).click()

    await lab.getByTestId('load-outcome').filter({ hasText: /^complete$/ }).waitFor({ timeout: 20_000 })
    expect(await lab.getByTestId('load-deliveries').textContent()).toBe('500 / 500')
    expect(await lab.getByTestId('load-progress').textContent()).toMatch(/run #\d+/)
    // Three live charts, drawn by uPlot on canvases laid out with a real width.
    const charts = lab.locator('.load-charts figure')
    expect(await charts.count()).toBe(3)
    for (const title of ['Deliveries per second', 'Latency p99', 'Open connections']) {
      const canvas = lab.getByRole('figure', { name: title, exact: true }).locator('canvas')
      expect(await canvas.count()).toBe(1)
      expect((await canvas.boundingBox())?.width).toBeGreaterThan(100)
    }
    await expect.poll(() => lab.getByRole('table', { name: 'earlier runs', exact: true }).locator('thead th[data-run]').count()).toBeGreaterThanOrEqual(1)

    // A session kicked from the table mid-run fails alone, and the run says so once its deliveries stop.
    await lab.getByLabel('mode', { exact: true }).selectOption('open')
    await lab.getByLabel('msgs/s per client', { exact: true }).fill('50')
    await lab.getByLabel('messages per client', { exact: true }).fill('0')
    await lab.getByLabel('duration (s)', { exact: true }).fill('3')
    await lab.getByRole('button', { name: 'Run load', exact: true }).click()
    await lab.getByTestId('load-progress').filter({ hasText: 'sending' }).waitFor()
    const rows = panel.getByRole('table', { name: 'live sessions' }).getByRole('row')
    await expect.poll(() => rows.count()).toBe(5)
    await rows.first().getByRole('button', { name: 'Kick' }).click()
    await lab.getByTestId('load-outcome').filter({ hasText: 'incomplete' }).waitFor({ timeout: 20_000 })
    await lab.getByText(/deliveries never arrived: 1 client was disconnected during the run/).waitFor()
    expect(await lab.getByRole('list', { name: 'errors by reason' }).textContent()).toContain('BYE kicked')
    expect(await lab.getByTestId('load-order').textContent()).not.toMatch(/different orders/)
    expect(errors).toEqual([])
  }, 60_000)

  it('says on screen what only the operator may allow: a listener beyond loopback, a foreign target, a 33rd viewer', async () => {
    const panel = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await panel.goto(url)
    await expect.poll(() => panel.getByRole('region', { name: 'event log' }).locator('li').count()).toBeGreaterThan(0)
    const status = panel.getByTestId('server-status')
    if ((await status.textContent()) === 'running') await panel.getByRole('button', { name: 'Stop' }).click()
    await status.filter({ hasText: 'stopped' }).waitFor()
    const card = panel.getByRole('region', { name: 'server' })
    await card.getByLabel('host').first().fill('0.0.0.0')
    await panel.getByRole('button', { name: 'Start', exact: true }).click()
    await card.getByText(/a listener on 0\.0\.0\.0:\d+ is beyond loopback: only the process may allow that/).waitFor()
    expect(await status.textContent()).toBe('stopped')
    await card.getByLabel('host').first().fill('127.0.0.1')
    await panel.getByRole('button', { name: 'Start', exact: true }).click()
    await status.filter({ hasText: 'running' }).waitFor()

    // Redis's usual port stands for anything else on this machine: the host will not dial it for the page.
    const chat = panel.getByRole('region', { name: 'Chat client' })
    await chat.getByLabel('server port').fill('6379')
    await chat.getByRole('button', { name: 'Connect' }).click()
    await chat.getByRole('alert').filter({ hasText: "127.0.0.1:6379 is not one of this server's listeners" }).waitFor()

    // Fill the host's viewer places (the earlier tests' pages hold some), then one more page is turned away.
    const base = new URL(url)
    const headers = { cookie: `switchboard_token_${base.port}=${base.searchParams.get('token')}`, origin: base.origin }
    const viewers: WebSocket[] = []
    for (let refused = false; !refused && viewers.length < 40; ) {
      const ws = new WebSocket(`ws://${base.host}/ws`, { headers })
      viewers.push(ws)
      refused = await new Promise<boolean>((done) => {
        ws.once('message', () => done(false))
        ws.once('close', () => done(true))
      })
    }
    const turnedAway = await browser.newPage()
    await turnedAway.goto(url)
    await turnedAway.getByTestId('host-lost').filter({ hasText: 'too many control-room connections: at most 32 at once' }).waitFor()
    for (const ws of viewers) ws.close()
  }, 60_000)

  it('refuses a visit without the token', async () => {
    const page = await browser.newPage()
    const response = await page.goto(url.replace(/\?token=.*/, ''))
    expect(response?.status()).toBe(403)
  })
})
