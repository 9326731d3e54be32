// Runs before `npm test` (the pretest script): the tests need a few programs from the system, not from npm.
// Each is checked; what is missing is installed with apt-get where we are root on Debian/Ubuntu (as CI is),
// otherwise the run stops at once with the one command that installs it. No test is ever skipped for want of one.
import { execFileSync } from 'node:child_process'
import { accessSync, constants, existsSync, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ASIO_EXAMPLE_DIR } from './asio-reference'

export interface SystemTool {
  /** What needs it, for the message. */
  usedBy: string
  /** A command looked up on PATH, or an absolute file. */
  command?: string
  file?: string
  /** The Debian package that brings it. */
  aptPackage: string
}

export const SYSTEM_TOOLS: SystemTool[] = [
  // playwright-core never downloads a browser: the end-to-end tests drive Debian's.
  { usedBy: 'the browser end-to-end tests', file: '/usr/bin/chromium', aptPackage: 'chromium' },
  { usedBy: "the interoperation tests (Asio's chat example)", command: 'g++', aptPackage: 'g++' },
  { usedBy: "the interoperation tests (Asio's chat example)", file: '/usr/include/asio.hpp', aptPackage: 'libasio-dev' },
  { usedBy: "the interoperation tests (Asio's chat example)", file: join(ASIO_EXAMPLE_DIR, 'chat_server.cpp'), aptPackage: 'libasio-doc' },
  { usedBy: 'the cluster tests', command: 'redis-server', aptPackage: 'redis-server' },
  // Prometheus's own parser and linter checks what GET /metrics serves.
  { usedBy: 'the Prometheus metrics test', command: 'promtool', aptPackage: 'prometheus' },
  // The TLS tests make real certificates with it.
  { usedBy: 'the TLS tests', command: 'openssl', aptPackage: 'openssl' }
]

export interface Machine {
  has(tool: SystemTool): boolean
  isRoot: boolean
  hasAptGet: boolean
}

export type Plan = { kind: 'ready' } | { kind: 'install'; packages: string[] } | { kind: 'stop'; message: string }

export const installCommand = (packages: string[]) => `apt-get install ${packages.join(' ')}`

/** What to do about the tools this machine lacks: nothing, install them, or stop and say how. */
export function planSystemTools(tools: SystemTool[], machine: Machine): Plan {
  const missing = tools.filter((tool) => !machine.has(tool))
  if (missing.length === 0) return { kind: 'ready' }
  const packages = [...new Set(missing.map((tool) => tool.aptPackage))]
  if (machine.isRoot && machine.hasAptGet) return { kind: 'install', packages }
  const what = [...new Set(missing.map((tool) => tool.usedBy))].join(', ')
  const sudo = machine.isRoot ? '' : 'sudo '
  return { kind: 'stop', message: `npm test: ${what} need system packages this machine lacks; install them with: ${sudo}${installCommand(packages)}` }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

const thisMachine = (): Machine => ({
  has: (tool) => (tool.command ? onPath(tool.command) : existsSync(tool.file!)),
  isRoot: process.getuid?.() === 0,
  hasAptGet: onPath('apt-get')
})

function main(): number {
  const plan = planSystemTools(SYSTEM_TOOLS, thisMachine())
  if (plan.kind === 'ready') return 0
  if (plan.kind === 'stop') {
    console.error(plan.message)
    return 1
  }
  console.log(`npm test: installing ${plan.packages.join(' ')} (apt-get, quietly)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...plan.packages], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  } catch {
    console.error(`npm test: apt-get could not install them; try by hand: ${installCommand(plan.packages)}`)
    return 1
  }
  const after = planSystemTools(SYSTEM_TOOLS, thisMachine())
  if (after.kind === 'ready') return 0
  console.error(`npm test: still missing after apt-get: ${after.kind === 'install' ? after.packages.join(' ') : after.message}`)
  return 1
}

// Run as a script (the pretest), not when a test imports the plan; through a symlinked checkout too.
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) process.exit(main())
