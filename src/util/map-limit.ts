/**
 * Bounded-concurrency mapping, the one limiter of engines and labs: hundreds of servers are queried
 * (or ZooKeeper batches written) in parallel without opening hundreds of connections at once.
 */

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order.
 * The first rejection rejects the whole map, and no new call starts after it.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++
      try {
        out[i] = await fn(items[i], i)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  const n = Math.max(1, Math.min(Math.floor(limit) || 1, items.length))
  await Promise.all(Array.from({length: n}, worker))
  return out
}

/** Like {@link mapLimit}, but every item runs and each outcome is reported, as Promise.allSettled does. */
export async function mapLimitSettled<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  return mapLimit(items, limit, async (item, i): Promise<PromiseSettledResult<R>> => {
    try {
      return {status: 'fulfilled', value: await fn(item, i)}
    } catch (reason) {
      return {status: 'rejected', reason}
    }
  })
}
