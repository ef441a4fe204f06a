/**
 * The clock of the lab meta's failure detector. In Pegasus the meta and each replica server are
 * processes of their own: a replica server's silence is time the meta was there to hear a beacon
 * and none came. The lab runs them all in one process, so when that process stalls (a loaded
 * machine, a long garbage collection), the meta, the beacons and the check stall together; on
 * waking, the check would see every node silent for the whole stall and take every primary away.
 *
 * So the failure detector measures silence in the time the lab process ran: each periodic check
 * banks the time since the one before, but never more than `maxStepMs` (a few check intervals).
 * A stall counts as one late check; a node that really stopped beaconing (killed, hung) is still
 * dead after the grace period of running time, which is the same as wall time while nothing
 * stalls.
 */
export class AwakeClock {
  private banked = 0
  private last: number

  constructor(
    private readonly maxStepMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now()
  }

  /** The clock's reading (ms); never goes back. */
  read(): number {
    return this.at(this.now())
  }

  /** Banks the time since the last tick (at most `maxStepMs`) and returns the reading; called by the periodic check. */
  tick(): number {
    const t = this.now()
    this.banked = this.at(t)
    this.last = t
    return this.banked
  }

  private at(t: number): number {
    return this.banked + Math.min(Math.max(0, t - this.last), this.maxStepMs)
  }
}
