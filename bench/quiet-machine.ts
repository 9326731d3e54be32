// CPU accounting from /proc, and waiting for a quiet machine.
//
// The server and the agent share two cores: anything else running (a test suite, a build) takes
// from them and skews the figures, and a busy core at start-up also skews --work-us, which the
// server calibrates against the clock. So each run waits for the machine to be idle, and counts
// the CPU that neither the server nor the load generator used while it ran ("background", in cores).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const QUIET_CORES = 0.1
export const BACKGROUND_WARN_CORES = 0.15

let ticksPerSec: number | undefined

/** Milliseconds of CPU in `ticks` (asks the system its tick rate once, on first use). */
export function ticksToMs(ticks: number): number {
  ticksPerSec ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      return 100
    }
  })()
  return (ticks / ticksPerSec) * 1000
}

/** Busy CPU time of the whole machine, in ticks (Linux /proc/stat; null elsewhere). */
export function machineBusyTicks(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
    // Steal counts too: time the hypervisor gave to someone else is time this run did not get.
    const [user, nice, system, , , irq, softirq, steal] = fields
    return user + nice + system + irq + softirq + (steal || 0)
  } catch {
    return null
  }
}

/** Fields of /proc/<pid>/stat after the command name, which may itself contain spaces. */
function statFields(pid: number | 'self' | undefined): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/** CPU time of one process (all its threads), in ticks. */
export function processTicks(pid: number | undefined): number | null {
  const fields = statFields(pid)
  return fields ? Number(fields[11]) + Number(fields[12]) : null // utime, stime
}

/**
 * CPU time of this process (the coordinator) and of the children it has reaped, in ticks. The load
 * agents are forked from here, so once they are reaped their whole life (start-up included) is in it.
 */
export function ownTreeTicks(): number | null {
  const fields = statFields('self')
  return fields ? Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) : null
}

/** This process's children, reaped or not yet (Linux with CONFIG_PROC_CHILDREN; null elsewhere). */
export function childPids(): number[] | null {
  let threads: string[]
  try {
    threads = readdirSync('/proc/self/task')
  } catch {
    return null
  }
  const pids: number[] = []
  for (const tid of threads) {
    try {
      for (const pid of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (pid) pids.push(Number(pid))
    } catch {
      if (tid === String(process.pid)) return null // a thread may end while we read; the main one may not
    }
  }
  return pids
}

/**
 * Waits until the children forked since `before` (the load agents) have exited and been reaped, so
 * that their CPU is in ownTreeTicks(): the coordinator reports as soon as each agent has sent its
 * figures, a moment before it exits. Children from before (the server, tsx's esbuild) may stay.
 */
export async function agentsReaped(before: number[] | null): Promise<boolean> {
  if (before === null) return false
  const deadline = Date.now() + 7000 // the coordinator kills agents 5s after the run ends
  for (;;) {
    const pids = childPids()
    if (pids === null) return false
    if (pids.every((pid) => before.includes(pid))) return true
    if (Date.now() > deadline) return false
    await sleep(5)
  }
}

/** Waits (up to 60s) until other processes use less than QUIET_CORES; returns what they used last. */
export async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + 60_000
  let warned = false
  for (;;) {
    const before = machineBusyTicks()
    const startedAt = performance.now()
    await sleep(400)
    const after = machineBusyTicks()
    if (before === null || after === null) return 0
    const elapsedMs = performance.now() - startedAt
    const cores = ticksToMs(after - before) / elapsedMs
    if (cores < QUIET_CORES || Date.now() > deadline) return cores
    if (!warned) process.stdout.write(`(machine busy: ${cores.toFixed(2)} cores in use, waiting) `)
    warned = true
  }
}
