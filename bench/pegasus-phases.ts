/**
 * Wall time, CPU time and memory per phase, for the Pegasus scale benches (issue 17: plan and
 * apply figures split by phase). Not a bench itself (the runner loads only `*.bench.js`).
 *
 * Peak RSS is the process's maxRSS, which only grows: the figure after a phase is the peak so far,
 * and a phase that raised it is marked `(new peak)`. A sampler also reads the RSS every 25 ms while
 * the event loop turns, so an async phase (a gather, an apply step) shows its own high-water mark;
 * a long synchronous phase (buildPlan) shows only its end and the maxRSS. CPU time is printed
 * beside the wall time because on a shared machine the wall time of a CPU-bound phase is mostly
 * waiting for a core.
 */
import {loadavg} from 'node:os'
import {performance} from 'node:perf_hooks'

export interface PhaseFigure {
  name: string
  wallS: number
  cpuS: number
  /** Highest RSS sampled during the phase (MB). */
  sampledMb: number
  /** RSS at the end of the phase (MB). */
  endMb: number
  /** The process's peak RSS after the phase (MB). */
  peakMb: number
  raisedPeak: boolean
}

function rssMb(): number {
  return process.memoryUsage.rss() / 1024 / 1024
}

function peakMb(): number {
  return process.resourceUsage().maxRSS / 1024
}

function cpuS(): number {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1e6
}

/** The 1-minute load average, for the line of each figure. */
export function load1(): string {
  return loadavg()[0]!.toFixed(1)
}

/** Measures consecutive named phases. */
export class PhaseMeter {
  readonly phases: PhaseFigure[] = []
  private current: {name: string; wall: number; cpu: number; peakBefore: number; sampled: number} | undefined
  private readonly timer: NodeJS.Timeout

  constructor() {
    this.timer = setInterval(() => {
      if (this.current) this.current.sampled = Math.max(this.current.sampled, rssMb())
    }, 25)
    this.timer.unref()
  }

  /** Ends the phase running (if any) and starts `name`. */
  start(name: string): void {
    this.end()
    this.current = {name, wall: performance.now(), cpu: cpuS(), peakBefore: peakMb(), sampled: rssMb()}
  }

  /** Ends the phase running, if any. */
  end(): void {
    const c = this.current
    if (!c) return
    this.current = undefined
    const end = rssMb()
    const peak = peakMb()
    this.phases.push({
      name: c.name,
      wallS: (performance.now() - c.wall) / 1000,
      cpuS: cpuS() - c.cpu,
      sampledMb: Math.max(c.sampled, end),
      endMb: end,
      peakMb: peak,
      raisedPeak: peak > c.peakBefore + 1,
    })
  }

  /** Runs `fn` as the phase `name`. */
  async time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    this.start(name)
    try {
      return await fn()
    } finally {
      this.end()
    }
  }

  /** The phase figures so far as aligned lines, and the sum of the named phases. */
  report(title: string, names?: string[]): string[] {
    this.end()
    const shown = names ? this.phases.filter((p) => names.includes(p.name)) : this.phases
    const width = Math.max(...shown.map((p) => p.name.length), 5)
    const lines = shown.map(
      (p) =>
        `  ${p.name.padEnd(width)}  ${p.wallS.toFixed(2).padStart(6)} s wall  ${p.cpuS.toFixed(2).padStart(6)} s cpu  ` +
        `rss ${p.endMb.toFixed(0).padStart(5)} MB at end, ${p.sampledMb.toFixed(0).padStart(5)} MB sampled high  ` +
        `peak ${p.peakMb.toFixed(0).padStart(5)} MB${p.raisedPeak ? ' (new peak)' : ''}`,
    )
    const wall = shown.reduce((s, p) => s + p.wallS, 0)
    const cpu = shown.reduce((s, p) => s + p.cpuS, 0)
    return [
      `${title}: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s cpu, peak RSS ${peakMb().toFixed(0)} MB (load ${load1()})`,
      ...lines,
    ]
  }

  stop(): void {
    this.end()
    clearInterval(this.timer)
  }
}
