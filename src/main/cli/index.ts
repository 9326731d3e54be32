#!/usr/bin/env node
// Entry of the headless CLI (out/main/cli.js): `switchboard serve ...`, `switchboard load ...`, `switchboard user ...`.
// Plain Node, no Electron.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { version } from '../../../package.json'
import { parseServeArgs, SERVE_USAGE, UsageError } from './args'
import { load } from './load'
import { LOAD_USAGE, parseLoadArgs } from './load-args'
import { serve } from './serve'
import { parseUserArgs, user, USER_USAGE } from './user'

// The worker and the load agent are build entries of their own, emitted next to this file; the
// renderer is built beside out/main.
const here = dirname(fileURLToPath(import.meta.url))
const paths = {
  workerFile: join(here, 'logic-worker.js'),
  loadAgentFile: join(here, 'load-agent.js'),
  rendererDir: join(here, '../renderer')
}

const COMMANDS = {
  serve: {
    summary: 'run the chat server headless; --web PORT adds the control room in a browser',
    usage: SERVE_USAGE,
    run: (argv: string[]) => serve(parseServeArgs(argv), paths)
  },
  load: {
    summary: 'run a traffic-lab load against a server and print its report',
    usage: LOAD_USAGE,
    run: (argv: string[]) => load(parseLoadArgs(argv), paths.loadAgentFile)
  },
  user: {
    summary: 'add a user to a users file (serve --users), or change its password, or remove it',
    usage: USER_USAGE,
    run: (argv: string[]) => user(parseUserArgs(argv))
  }
}
type CommandName = keyof typeof COMMANDS
const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name)

const USAGE = `usage: switchboard <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(7)}${command.summary}`)
  .join('\n')}
  help   this text; \`switchboard help <command>\` (or \`<command> --help\`) lists a command's options

  -h, --help   this text
  --version    the version`

const HELP_WORDS = ['help', '-h', '--help']

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || HELP_WORDS.includes(name)) {
    const topic = rest[0]
    console.log(topic !== undefined && isCommand(topic) ? COMMANDS[topic].usage : USAGE)
    return 0
  }
  if (name === '--version') {
    console.log(`switchboard ${version}`)
    return 0
  }
  if (!isCommand(name)) throw new UsageError(`unknown command "${name}"\n${USAGE}`)
  const command = COMMANDS[name]
  // `help` may be an option's value (`--node-id help`); the flags cannot.
  if (rest.includes('-h') || rest.includes('--help')) {
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

// What went wrong, in one line: a stack names our files, not the user's mistake.
function fail(error: unknown): never {
  console.error(`switchboard: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(error instanceof UsageError ? 2 : 1)
}

process.on('uncaughtException', fail)
main(process.argv.slice(2)).then((code) => process.exit(code), fail)
