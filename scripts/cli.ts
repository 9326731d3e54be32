// `npm run serve -- ...`: the built CLI, built first only when the sources changed since. Asked only for
// its usage or version, it answers from the sources at once, built or not.
import { pathToFileURL } from 'node:url'
import { BUILT_CLI, ensureBuilt } from './built'

const args = process.argv.slice(2)
const onlyAsks = args.some((arg) => ['-h', '--help', '--version'].includes(arg)) || args.length === 0 || args[0] === 'help'
if (onlyAsks) await import('../src/main/cli/index')
else {
  if (!ensureBuilt()) process.exit(1)
  // Run in this process, so signals (Ctrl-C) reach the server itself; it reads the arguments after this script.
  await import(pathToFileURL(BUILT_CLI).href)
}
