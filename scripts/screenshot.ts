// Takes the README's screenshot of the real control room under load, through browser mode:
//   npm run screenshot   (builds first; needs Debian's chromium)
// Starts the headless server with --web, floods it from load agents, opens the panel in chromium.
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS } from '../test/e2e/chromium'

const children: ChildProcess[] = []
const run = (args: string[]) => {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return child
}

async function main(): Promise<void> {
  const server = run([resolve('out/main/cli.js'), 'serve', '--listen', 'line:0', '--listen', 'asio:0', '--web', '0', '--status-ms', '0'])
  let output = ''
  server.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  while (!/control room at (\S+)/.test(output)) await new Promise((r) => setTimeout(r, 50))
  const url = /control room at (\S+)/.exec(output)![1]
  const [linePort, asioPort] = [...output.matchAll(/listening on 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  const page = await browser.newPage({ viewport: { width: 1440, height: 1280 } })
  await page.goto(url)
  await page.getByTestId('server-status').filter({ hasText: 'running' }).waitFor()
  await page.getByLabel('nick').fill('watcher')
  await page.getByRole('button', { name: 'Connect' }).click()

  // Long closed-loop runs on both listeners, so the charts and the table have something to show.
  const load = (port: number, codec: string, clients: number) =>
    run([resolve('out/main/load-agent.js'), JSON.stringify({ port, codec, clients, messages: 5000, size: 64, window: 2, timeoutMs: 60_000 })])
  load(linePort, 'line', 150)
  load(asioPort, 'asio', 150)
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
  .finally(() => children.forEach((child) => child.kill('SIGINT')))
