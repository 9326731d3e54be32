import { asioCodec } from './asio'
import { lineCodec } from './line'
import type { Codec, CodecName } from './types'

export type { Codec, CodecName, DecodeErrorCode, DecoderEvents, FrameDecoder } from './types'

const codecs: Record<CodecName, Codec> = { line: lineCodec, asio: asioCodec }

export const CODEC_NAMES = Object.keys(codecs) as CodecName[]

export function isCodecName(name: string): name is CodecName {
  return Object.hasOwn(codecs, name)
}

export function getCodec(name: CodecName): Codec {
  return codecs[name]
}
