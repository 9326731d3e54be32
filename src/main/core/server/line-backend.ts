import type { ClusterMetrics } from '../../../shared/telemetry'
import type { ChatProtocol } from './chat-protocol'
import type { HistoryLimits } from './room-history'

/** What a line backend may ask of the server that holds it: its limits, its figures, a kick. */
export interface LineBackendContext extends HistoryLimits {
  presenceLimit: number
  maxLineBytes: number
  /** This node's figures, for a cluster's heartbeat. */
  beat(): { sessions: number; msgsInPerSec: number; msgsOutPerSec: number; listeners: string[] }
  /** What the backend holds for later (a cluster: waiting on Redis) is at its bound, or back under it: reading pauses meanwhile. */
  pressure(full: boolean): void
  /** Kicks a session of this server (asked by another node). */
  kick(sessionId: number, reason: string): void
  log(text: string, error?: boolean): void
}

/**
 * The line listeners' rooms and nicks: this process's own (LineChat), or shared with the other nodes of a
 * cluster (ClusterChat). Chosen by whoever builds the server (the host, a test) and handed to it as a
 * factory; the server never asks which it has, as socket.io's server never asks which adapter.
 */
export interface LineBackend extends ChatProtocol {
  /** This node's name among others sharing the rooms; null for a process on its own. */
  readonly nodeId: string | null
  /** Ready to take sessions (a cluster: Redis reached, the node registered); throws if it cannot be. */
  open(): Promise<void>
  /** Settles once every session that was here has left its room for good. */
  allLeft(): Promise<void>
  /** Lets go of what open() took; `graceMs` bounds any goodbye to others. */
  close(graceMs: number): Promise<void>
  /** Asks the node holding a session to kick it; false where there is no such node. */
  kickRemote(node: string, sessionId: number, reason: string): Promise<boolean>
  /** The cluster's figures for the control room; null for a process on its own. */
  metrics(): ClusterMetrics | null
}

export type LineBackendFactory = (context: LineBackendContext) => LineBackend
