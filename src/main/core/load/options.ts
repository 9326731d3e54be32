import { ASIO_MAX_BODY } from '../codec/asio'
import { isCodecName } from '../codec'
import { tagLength } from './wire'
import type { LoadOptions } from './types'

export const LOAD_DEFAULTS: Omit<LoadOptions, 'port'> = {
  host: '127.0.0.1',
  codec: 'line',
  clients: 10,
  messages: 100,
  size: 64,
  window: 8,
  timeoutMs: 60_000
}

function whole(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`load option ${name} must be a whole number >= ${min}, not ${JSON.stringify(value)}`)
  }
  return value
}

/** Fills in defaults and refuses what the engine cannot run, e.g. a body too short to carry its tag. */
export function resolveLoadOptions(input: Partial<LoadOptions> & Pick<LoadOptions, 'port'>): LoadOptions {
  const merged = { ...LOAD_DEFAULTS, ...input }
  if (typeof merged.host !== 'string' || merged.host === '') {
    throw new RangeError('load option host must be a host name or address')
  }
  if (typeof merged.codec !== 'string' || !isCodecName(merged.codec)) {
    throw new RangeError(`load option codec must be line or asio, not ${JSON.stringify(merged.codec)}`)
  }
  const options: LoadOptions = {
    host: merged.host,
    port: whole('port', merged.port, 1),
    codec: merged.codec,
    clients: whole('clients', merged.clients, 1),
    messages: whole('messages', merged.messages, 1),
    size: whole('size', merged.size, 1),
    window: whole('window', merged.window, 1),
    timeoutMs: whole('timeoutMs', merged.timeoutMs, 1)
  }
  if (options.port > 65535) throw new RangeError('load option port must be 1-65535')
  const minimum = tagLength(options.clients, options.messages)
  if (options.size < minimum) {
    const tagged = `${options.clients} clients x ${options.messages} messages`
    throw new RangeError(`load option size must be >= ${minimum} to carry the tag of ${tagged}`)
  }
  if (options.codec === 'asio' && options.size > ASIO_MAX_BODY) {
    throw new RangeError(`load option size must be <= ${ASIO_MAX_BODY} for asio (Asio's chat_message::max_body_length)`)
  }
  return options
}
