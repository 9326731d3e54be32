import type { CodecName } from '../../../shared/telemetry'

/** Why a decoder gave up on a stream. After an error the decoder discards everything it is fed. */
export type DecodeErrorCode = 'line-too-long' | 'bad-header'

export interface DecoderEvents {
  /**
   * One whole frame's payload: a line without its terminator, or an asio body without its header.
   * Returning false stops decoding after this frame until resume().
   */
  onFrame(payload: Buffer): boolean | void
  /** The stream can no longer be framed; the owner should report and close. */
  onError(code: DecodeErrorCode, detail: string): void
}

/** A push parser: fed raw chunks as they arrive, it knows nothing about sockets. */
export interface FrameDecoder {
  write(chunk: Buffer): void
  /** Goes on decoding what a stop left; true if it got through all of it without being stopped again. */
  resume(): boolean
  /** Bytes held for an incomplete frame: bounded by the frame limit, whatever the peer sends. */
  readonly buffered: number
}


export type { CodecName }

export interface Codec {
  readonly name: CodecName
  createDecoder(events: DecoderEvents, maxPayload: number): FrameDecoder
  /** Frames one payload for the wire. The result is shared by every recipient of a broadcast. */
  encode(payload: Buffer | string): Buffer
}
