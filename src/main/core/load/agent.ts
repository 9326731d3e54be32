// Entry of the load agent (out/main/load-agent.js): one closed-loop run in its own process, so the
// generator never shares an event loop with the server it measures. Plain Node, no Electron.
//   node out/main/load-agent.js '{"port":7000,"codec":"line","clients":200,"messages":40}'
//   echo '{"port":7000}' | node out/main/load-agent.js
// Prints the LoadReport as one line of JSON on stdout; an incomplete run is still a report (exit 0).
import { text } from 'node:stream/consumers'
import { runClosedLoop } from './closed-loop'
import type { LoadOptions } from './types'

async function readOptions(argv: string[]): Promise<Partial<LoadOptions> & Pick<LoadOptions, 'port'>> {
  const source = argv[0] ?? (process.stdin.isTTY ? '' : await text(process.stdin))
  if (source.trim() === '') throw new RangeError('expected the load options as JSON, as an argument or on stdin')
  const parsed: unknown = JSON.parse(source)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RangeError('load options must be a JSON object')
  }
  return parsed as Partial<LoadOptions> & Pick<LoadOptions, 'port'>
}

async function main(argv: string[]): Promise<number> {
  let options
  try {
    options = await readOptions(argv)
  } catch (error) {
    console.error(`load-agent: ${(error as Error).message}`)
    return 2
  }
  const report = await runClosedLoop(options)
  process.stdout.write(JSON.stringify(report) + '\n')
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`load-agent: ${error instanceof RangeError ? error.message : String((error as Error).stack ?? error)}`)
    process.exitCode = error instanceof RangeError ? 2 : 1
  }
)
