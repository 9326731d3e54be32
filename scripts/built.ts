// The CLI and the app run from the build (out/): the worker and the load agent are files loaded by path.
// Build when it is missing or older than its sources, and only then: a second `npm run serve` starts at once.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
export const BUILT_CLI = join(ROOT, 'out/main/cli.js')
const OUTPUTS = [BUILT_CLI, 'out/main/index.js', 'out/main/logic-worker.js', 'out/main/load-agent.js', 'out/preload/index.cjs', 'out/renderer/index.html'].map((file) => resolve(ROOT, file))
const SOURCES = ['src', 'package.json', 'electron.vite.config.ts'].map((file) => join(ROOT, file))

function newestChange(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestChange(join(path, name))))
}

export function isStale(): boolean {
  if (!OUTPUTS.every(existsSync)) return true
  const built = Math.min(...OUTPUTS.map((file) => statSync(file).mtimeMs))
  return SOURCES.some((source) => newestChange(source) > built)
}

/** Builds if stale; false when the build failed (its own output says why). */
export function ensureBuilt(): boolean {
  if (!isStale()) return true
  console.log('switchboard: building (out/ is missing or older than the sources)')
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' })
  return build.status === 0
}
