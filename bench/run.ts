/**
 * Entry of `npm run bench`: runs every `*.bench.js` module compiled next to this file, in name
 * order, or only those whose name contains the first argument (`node dist/bench/run.js zk`).
 * Each module exports `run(): Promise<void>`, which prints its own figures. Benchmarks print;
 * they never assert on time.
 */
import {readdir} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {describeError} from '../src/errors.js'

interface BenchModule {
  run(): Promise<void>
}

async function main(): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url))
  const filter = process.argv[2]
  const names = (await readdir(here)).filter((f) => f.endsWith('.bench.js')).map((f) => f.slice(0, -'.bench.js'.length)).sort()
  // An exact name picks that bench alone; otherwise every bench whose name contains the filter.
  const chosen = filter === undefined ? names : names.includes(filter) ? [filter] : names.filter((n) => n.includes(filter))
  if (chosen.length === 0) {
    console.error(`no benchmark matches "${filter ?? ''}"; available: ${names.join(', ') || '(none)'}`)
    return 1
  }
  let failed = 0
  for (const name of chosen) {
    console.log(`== bench ${name}`)
    try {
      const mod = (await import(pathToFileURL(join(here, `${name}.bench.js`)).href)) as Partial<BenchModule>
      if (typeof mod.run !== 'function') throw new Error(`${name}.bench.js exports no run() function`)
      await mod.run()
    } catch (err) {
      failed++
      console.error(`bench ${name} failed: ${describeError(err)}`)
    }
  }
  return failed === 0 ? 0 : 1
}

process.exitCode = await main()
