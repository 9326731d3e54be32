// Builds Asio's C++ chat example, the reference our asio codec must interoperate with and the
// anchor our benchmarks compare against. Its sources come from Debian (libasio-dev + libasio-doc);
// they and the binaries stay out of the repository, built on demand into node_modules/.cache.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

export const ASIO_EXAMPLE_DIR = '/usr/share/doc/libasio-dev/examples/cpp11/chat'
const CACHE_DIR = resolve('node_modules/.cache/switchboard-asio')

export type AsioProgram = 'chat_server' | 'chat_client'

/** Returns the path of the built program, compiling it only when missing or older than its source. */
export async function buildAsioProgram(program: AsioProgram): Promise<string> {
  const source = join(ASIO_EXAMPLE_DIR, `${program}.cpp`)
  if (!existsSync(source) || !existsSync('/usr/include/asio.hpp')) {
    throw new Error(`${source} or asio.hpp is missing: apt-get install libasio-dev libasio-doc`)
  }
  const binary = join(CACHE_DIR, program)
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary
  mkdirSync(CACHE_DIR, { recursive: true })
  await promisify(execFile)('g++', ['-O2', '-std=c++17', source, '-o', binary, '-lpthread'])
  return binary
}

/** A port free on every interface: Asio's chat_server binds 0.0.0.0 and cannot report a port it picked. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}
