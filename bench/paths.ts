// Where the bench finds the build it measures, and keeps what it measured.
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const BENCH_DIR = join(ROOT, '.bench')
export const CLI = join(ROOT, 'out/main/cli.js')
export const AGENT = join(ROOT, 'out/main/load-agent.js')
