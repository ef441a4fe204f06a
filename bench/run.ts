/**
 * Entry of `npm run bench`: runs every `*.bench.js` module compiled next to this file, in name
 * order, or only those whose name contains the first argument (`node dist/bench/run.js zk`).
 * Each module exports `run(): Promise<void>`, which prints its own figures. Benchmarks print;
 * they never assert on time. Each bench runs in a process of its own, so that its peak RSS and its
 * timings owe nothing to the benches before it. The machine's load average is printed before and
 * after each bench, so that figures from a busy run are read as such.
 */
import {spawn} from 'node:child_process'
import {readdir} from 'node:fs/promises'
import {availableParallelism, loadavg} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {describeError} from '../src/errors.js'

interface BenchModule {
  run(): Promise<void>
}

async function main(): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url))
  const filter = process.argv[2]
  const names = (await readdir(here))
    .filter((f) => f.endsWith('.bench.js'))
    .map((f) => f.slice(0, -'.bench.js'.length))
    .sort()
  // An exact name picks that bench alone; otherwise every bench whose name contains the filter.
  const chosen =
    filter === undefined ? names : names.includes(filter) ? [filter] : names.filter((n) => n.includes(filter))
  if (chosen.length === 0) {
    console.error(`no benchmark matches "${filter ?? ''}"; available: ${names.join(', ') || '(none)'}`)
    return 1
  }
  let failed = 0
  for (const name of chosen) {
    console.log(`== bench ${name}  (${load()})`)
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--one', name], {stdio: 'inherit'})
      child.on('error', () => resolve(1))
      child.on('exit', (c, signal) => resolve(signal ? 1 : (c ?? 1)))
    })
    console.log(`== end ${name}  (${load()})`)
    if (code !== 0) failed++
  }
  return failed === 0 ? 0 : 1
}

/** The 1, 5 and 15 minute load averages against the number of cores, e.g. `load 1.52 1.10 0.80 on 2 cores`. */
function load(): string {
  return `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`
}

/** Runs one bench in this process (the child side of main). */
async function one(name: string): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url))
  try {
    const mod = (await import(pathToFileURL(join(here, `${name}.bench.js`)).href)) as Partial<BenchModule>
    if (typeof mod.run !== 'function') throw new Error(`${name}.bench.js exports no run() function`)
    await mod.run()
    return 0
  } catch (err) {
    console.error(`bench ${name} failed: ${describeError(err)}`)
    return 1
  }
}

process.exitCode =
  process.argv[2] === '--one' && process.argv[3] !== undefined ? await one(process.argv[3]) : await main()
