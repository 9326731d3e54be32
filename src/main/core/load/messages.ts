// The messages between the coordinator and its agent processes (over the fork IPC channel), declared once.
import type { LoadConfig } from '../../../shared/load'

export type ToAgent =
  /** Connect clients first .. first + count - 1 (global indices: tags and rooms are global). */
  | { type: 'start'; config: LoadConfig; first: number; count: number; nonce: number }
  /** asio only: every agent is connected; the agent with client 0 sends the barrier body. */
  | { type: 'sync' }
  /** Every agent is ready: start sending. `members[r]` is how many clients are in room r. */
  | { type: 'go'; members: number[] }
  /** Stop sending (duration over, or the user stopped the run); deliveries still count. */
  | { type: 'stop' }
  /** Close every connection and send the final figures. */
  | { type: 'finish' }
  /** A reconnect storm made by the load generator itself: every connection cut at once (resuming runs). */
  | { type: 'storm' }

export interface AgentCounters {
  open: number
  sent: number
  deliveries: number
  echoed: number
  bytesIn: number
  bytesOut: number
  protocolErrors: number
  connectErrors: number
  disconnects: number
  /** Of those, clients lost once sending began (kicked, dropped): what was owed them will not come. */
  lostWhileSending: number
  /** Deliveries this agent's messages owe the run: each sent message times its room's members. */
  expected: number
  /** Every client has sent what it will send (its message count, or stopped). */
  sendingDone: boolean
  firstSendAt: number
  lastDeliveryAt: number
  // Resuming runs (LoadConfig.resume); see StormReport.
  resumed: number
  recovered: number
  gaps: number
  duplicates: number
  lostInFlight: number
  /** Clients whose connection is lost and not yet resumed. */
  offline: number
}

export type FromAgent =
  /** Every connection was tried; `failed` of them did not connect. */
  | { type: 'connected'; failed: number }
  /** All its connected clients are in their rooms. */
  | { type: 'ready'; members: number[] }
  /** Counters so far, and the latency histogram of the interval (HdrHistogram compressed). */
  | { type: 'progress'; counters: AgentCounters; latency: string }
  | {
      type: 'final'
      counters: AgentCounters
      latency: string
      connect: string
      /** TCP connected to TLS handshake done (TLS runs). */
      handshake: string
      /** From a lost connection to its RESUME-END (resuming runs). */
      recover: string
      errors: Record<string, number>
      /** CPU over the run as a share of one core. */
      cpu: number
      /** Per room, the order digests its clients here ended with: [room, digest, clients with it]. */
      orders: [room: number, digest: number, clients: number][]
      /** Per target of the config, its clients here that connected and the frames they received. */
      targets: { connected: number; deliveries: number }[]
    }
