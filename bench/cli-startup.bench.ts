/**
 * How fast the CLI starts: `lifeboat --version` (answered before @oclif/core loads) and
 * `lifeboat validate` (through oclif and its manifest) beside a bare `node -e 0`, median of
 * interleaved runs. Prints figures only; the target is --version under 1.5x bare node.
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(REPO, 'bin', 'run.js')
const RUNS = 9

function timeOnce(args: string[]): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, {cwd: REPO, stdio: 'ignore'})
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`)
  return Number(process.hrtime.bigint() - t0) / 1e6
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export async function run(): Promise<void> {
  const cases: Array<[string, string[]]> = [
    ['node -e 0', ['-e', '0']],
    ['lifeboat --version', [BIN, '--version']],
    ['lifeboat validate (runbook)', [BIN, 'validate', join(REPO, 'runbooks', 'pegasus-ddd-recovery.yaml')]],
  ]
  const manifest = existsSync(join(REPO, 'oclif.manifest.json'))
  const times = new Map<string, number[]>(cases.map(([n]) => [n, []]))
  // Interleaved, so that a burst of load elsewhere hits every case alike.
  for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) times.get(name)!.push(timeOnce(args))
  const base = median(times.get('node -e 0')!)
  console.log(
    `oclif manifest: ${manifest ? 'present' : 'absent (npm run build writes it)'} at the start; median of ${RUNS} runs each`,
  )
  for (const [name] of cases) {
    const m = median(times.get(name)!)
    console.log(`  ${name.padEnd(30)} ${m.toFixed(0).padStart(6)} ms  ${(m / base).toFixed(2)}x node -e 0`)
  }
}
