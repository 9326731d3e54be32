import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { waitFor } from './helpers'

describe('npm start (scripts/start.ts)', () => {
  it('without an Electron binary to run or fetch, says why in one line and serves the control room in a browser', async () => {
    // An electron package with neither its binary nor its installer: nothing is fetched, so no network is touched.
    const electronDir = mkdtempSync(join(tmpdir(), 'switchboard-electron-'))
    writeFileSync(join(electronDir, 'package.json'), '{"name": "electron"}')
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', '--listen', 'line:0', '--web', '0', '--status-ms', '0'], {
      env: { ...process.env, SWITCHBOARD_ELECTRON_DIR: electronDir },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk))
    const exited = once(child, 'exit')
    await waitFor('the control room', () => /control room at http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.test(stdout))
    expect(stdout).toContain(`switchboard: no Electron binary (no installer at ${join(electronDir, 'install.js')}); opening the control room in browser mode instead`)
    expect(stdout).not.toMatch(/\n\s+at |Electron uninstall/)
    const url = /control room at (\S+)/.exec(stdout)![1]
    const page = await fetch(url)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<div id="root">')
    child.kill('SIGTERM')
    expect((await exited)[0]).toBe(0)
  })
})
