#!/usr/bin/env node
// Entry of the headless CLI (out/main/cli.js): `switchboard serve ...` and `switchboard load ...`.
// Plain Node, no Electron.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseServeArgs, SERVE_USAGE, UsageError } from './args'
import { load } from './load'
import { LOAD_USAGE, parseLoadArgs } from './load-args'
import { serve } from './serve'

// The worker and the load agent are build entries of their own, emitted next to this file; the
// renderer is built beside out/main.
const here = dirname(fileURLToPath(import.meta.url))
const paths = {
  workerFile: join(here, 'logic-worker.js'),
  loadAgentFile: join(here, 'load-agent.js'),
  rendererDir: join(here, '../renderer')
}

const COMMANDS = {
  serve: { usage: SERVE_USAGE, run: (argv: string[]) => serve(parseServeArgs(argv), paths) },
  load: { usage: LOAD_USAGE, run: (argv: string[]) => load(parseLoadArgs(argv), paths.loadAgentFile) }
}
type CommandName = keyof typeof COMMANDS

const USAGE = `${SERVE_USAGE}\n\n${LOAD_USAGE}`

async function main(argv: string[]): Promise<number> {
  // `switchboard --listen ...` is `switchboard serve --listen ...`.
  const [name, ...rest] = argv.length === 0 || argv[0].startsWith('-') ? ['serve', ...argv] : argv
  if (name === 'help') {
    console.log(USAGE)
    return 0
  }
  if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command "${name}" (serve, load, help)`)
  const command = COMMANDS[name as CommandName]
  if (rest.includes('--help')) {
    console.log(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    if (error instanceof UsageError) error.message = `${error.message}\n${command.usage}`
    throw error
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`switchboard: ${error.message}`)
      process.exit(2)
    }
    console.error(error)
    process.exit(1)
  }
)
