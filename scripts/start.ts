// `npm start`: the desktop app. Electron's binary is fetched by Electron's own installer, which npm 11 runs
// only when approved, so here it is fetched on first start. Where it cannot be had (no internet, an old Node
// for its installer), the same control room opens in a browser instead: one line says why, then its URL.
// Extra arguments (`npm start -- --web 0`) go to browser mode's `switchboard serve`.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BUILT_CLI, ensureBuilt } from './built'

/** Where the electron package is; settable so a test can stand in a package without a binary or a network. */
const electronDir = process.env.SWITCHBOARD_ELECTRON_DIR ?? dirname(createRequire(import.meta.url).resolve('electron/package.json'))
/** The desktop app's listeners; its figures are on the page, so no status lines in the terminal. */
const BROWSER_MODE = ['--listen', 'line:7000', '--listen', 'asio:7001', '--web', '7080', '--status-ms', '0']

function electronBinary(): string | null {
  const pathFile = join(electronDir, 'path.txt')
  if (!existsSync(pathFile)) return null
  const binary = join(electronDir, 'dist', readFileSync(pathFile, 'utf8'))
  return existsSync(binary) ? binary : null
}

/** Runs Electron's installer; null once fetched, else why not, in a few words. */
function fetchElectron(): string | null {
  const installer = join(electronDir, 'install.js')
  if (!existsSync(installer)) return `no installer at ${installer}`
  console.log("switchboard: fetching Electron's binary (first start)")
  const run = spawnSync(process.execPath, [installer], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 300_000 })
  if (run.status === 0 && electronBinary()) return null
  const said = run.error?.message ?? run.stderr.split('\n').find((line) => line.trim() !== '')?.trim() ?? `exit code ${run.status}`
  return `Electron's installer could not fetch it: ${said}`
}

if (!ensureBuilt()) process.exit(1)
const whyNot = electronBinary() ? null : fetchElectron()
if (whyNot === null) {
  const preview = spawnSync(process.execPath, [join(import.meta.dirname, '../node_modules/electron-vite/bin/electron-vite.js'), 'preview', '--skipBuild'], { stdio: 'inherit' })
  process.exit(preview.status ?? 1)
}
console.log(`switchboard: no Electron binary (${whyNot}); opening the control room in browser mode instead`)
const extra = process.argv.slice(2)
process.argv = [process.argv[0], BUILT_CLI, 'serve', ...(extra.length > 0 ? extra : BROWSER_MODE)]
await import(pathToFileURL(BUILT_CLI).href)
