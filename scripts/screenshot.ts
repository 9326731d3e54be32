// Takes the README's screenshot of the real control room under load, through browser mode:
//   npm run screenshot   (builds first; needs Debian's chromium)
// Starts the headless server with --web, opens the panel in chromium and loads it from its own traffic lab.
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS } from '../test/e2e/chromium'

let server: ChildProcess | undefined

async function main(): Promise<void> {
  server = spawn(process.execPath, [resolve('out/main/cli.js'), 'serve', '--listen', 'line:0', '--listen', 'asio:0', '--web', '0', '--status-ms', '0'], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  server.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  while (!/control room at (\S+)/.test(output)) await new Promise((r) => setTimeout(r, 50))
  const url = /control room at (\S+)/.exec(output)![1]

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  const page = await browser.newPage({ viewport: { width: 1440, height: 1600 } })
  await page.goto(url)
  await page.getByTestId('server-status').filter({ hasText: 'running' }).waitFor()
  await page.getByLabel('nick').fill('watcher')
  await page.getByRole('button', { name: 'Connect' }).click()

  // A long open-loop run from the traffic lab itself, so the charts, the table and the lab have something to show.
  const lab = page.getByRole('region', { name: 'traffic lab', exact: true })
  await lab.getByLabel('clients', { exact: true }).fill('300')
  await lab.getByLabel('room size', { exact: true }).fill('30')
  await lab.getByLabel('mode', { exact: true }).selectOption('open')
  await lab.getByLabel('msgs/s per client', { exact: true }).fill('50')
  await lab.getByLabel('messages per client', { exact: true }).fill('0')
  await lab.getByLabel('duration (s)', { exact: true }).fill('20')
  await lab.getByRole('button', { name: 'Run load', exact: true }).click()
  await page.waitForTimeout(8000)
  await page.getByLabel('message', { exact: true }).fill('hello from the control room')
  await page.getByRole('button', { name: 'Send' }).click()
  await page.waitForTimeout(1500)
  await page.getByRole('heading', { name: 'Switchboard' }).scrollIntoViewIfNeeded() // typing scrolled the page down
  await page.screenshot({ path: resolve('docs/screenshot.png') })
  console.log('screenshot: docs/screenshot.png')
  await browser.close()
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => server?.kill('SIGINT'))
