#!/usr/bin/env node
// Entry of the headless CLI (out/main/cli.js): `switchboard serve ...`. Plain Node, no Electron.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseServeArgs, SERVE_USAGE, UsageError } from './args'
import { serve } from './serve'

// The worker is its own build entry, emitted next to this file; the renderer is built beside out/main.
const here = dirname(fileURLToPath(import.meta.url))
const paths = { workerFile: join(here, 'logic-worker.js'), rendererDir: join(here, '../renderer') }

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv[0]?.startsWith('-') || argv.length === 0 ? ['serve', ...argv] : argv
  if (command === 'help' || rest.includes('--help')) {
    console.log(SERVE_USAGE)
    return 0
  }
  if (command !== 'serve') throw new UsageError(`unknown command "${command}"`)
  return serve(parseServeArgs(rest), paths)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`switchboard: ${error.message}\n${SERVE_USAGE}`)
      process.exit(2)
    }
    console.error(error)
    process.exit(1)
  }
)
