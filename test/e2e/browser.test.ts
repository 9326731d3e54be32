// End to end in a real browser: Debian's chromium, driven by playwright-core, against browser mode.
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
    await panel.goto(url)
    const status = panel.getByTestId('server-status')
    await status.filter({ hasText: 'running' }).waitFor()

    // Restart it from the UI, with the logic inline this time.
    await panel.getByRole('button', { name: 'Stop' }).click()
    await status.filter({ hasText: 'stopped' }).waitFor()
    await panel.getByLabel('workers').fill('0')
    await panel.getByRole('button', { name: 'Start' }).click()
    await status.filter({ hasText: 'running' }).waitFor()
    await expect.poll(() => panel.getByText('inline ·').count()).toBe(1)

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
    const bobRow = rows.filter({ hasText: 'bob' })
    await expect.poll(() => bobRow.count()).toBe(1)
    await bobRow.getByRole('button', { name: 'Kick' }).click()
    await bob.getByTestId('client-status').filter({ hasText: 'closed' }).waitFor()
    await expect.poll(async () => (await bob.getByRole('list', { name: 'messages' }).textContent()) ?? '').toContain('BYE kicked by the control panel')
    await expect.poll(() => rows.count()).toBe(1)
    await expect.poll(() => chats(alice).then(() => alice.getByRole('list', { name: 'messages' }).textContent())).toContain('LEFT lobby bob')
    await expect.poll(() => panel.getByRole('region', { name: 'event log' }).textContent()).toContain('kicked: by the control panel')

    await panel.getByRole('button', { name: 'Stop' }).click()
    await status.filter({ hasText: 'stopped' }).waitFor()
    await alice.getByTestId('client-status').filter({ hasText: 'closed' }).waitFor()
    expect(errors).toEqual([])
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
    expect(errors).toEqual([])
  }, 60_000)

  it('refuses a visit without the token', async () => {
    const page = await browser.newPage()
    const response = await page.goto(url.replace(/\?token=.*/, ''))
    expect(response?.status()).toBe(403)
  })
})
