// `lifeboat demo`: the whole metadata-recovery journey on a fresh lab (its own ZooKeeper, as on a
// fresh machine), run as the operator would run it, ending with every row found.
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, describe, expect, inject, it} from 'vitest'

import {BIN, expectExit, lifeboat, tempDir} from './helpers.js'

const zk = inject('zookeeper')

const cleanup: string[] = []
afterAll(async () => {
  // A demo that failed half way leaves its lab up only if its own teardown failed: stop it here.
  for (const dir of cleanup) {
    if (existsSync(join(dir, 'lab', 'lab.json')))
      await lifeboat(['lab', 'down', '--state-dir', join(dir, 'lab')], {cwd: dir})
    rmSync(dir, {recursive: true, force: true})
  }
})

describe('lifeboat demo', () => {
  it('runs the pegasus-meta-recovery journey, printing each command, and ends with 10000 of 10000 found', async () => {
    const cwd = tempDir()
    cleanup.push(cwd)
    const stateDir = join(cwd, 'lab')
    const r = expectExit(await lifeboat(['demo', '--state-dir', stateDir], {cwd}), 0)
    const workDir = /^Working directory: (.+)$/m.exec(r.stdout)?.[1]
    if (workDir) cleanup.push(workDir)

    const lines = r.stdout.trimEnd().split('\n')
    expect(lines.at(-1)).toBe('10000 of 10000 found')
    // The journey, as commands the operator can repeat.
    const commands = lines.filter((l) => l.startsWith('$ lifeboat ')).map((l) => l.replace(stateDir, 'DIR'))
    expect(commands).toEqual([
      '$ lifeboat lab up pegasus-meta-recovery --detach --state-dir DIR',
      '$ lifeboat lab verify --state-dir DIR',
      '$ lifeboat lab fault zk-loss --state-dir DIR',
      '$ lifeboat lab verify --state-dir DIR',
      '$ lifeboat validate DIR/specs/pegasus-meta-recovery.yaml',
      '$ lifeboat plan DIR/specs/pegasus-meta-recovery.yaml --out plan.json',
      '$ lifeboat apply plan.json --auto-approve',
      '$ lifeboat lab fault restart-meta --no-recover --state-dir DIR',
      '$ lifeboat apply plan.json --resume --auto-approve --confirm 05-restart-meta-normal-mode',
      '$ lifeboat lab verify --state-dir DIR',
      '$ lifeboat audit verify',
      '$ lifeboat lab down --state-dir DIR',
    ])
    expect(r.stdout).toContain('0 of 10000 found')
    expect(r.stdout).toMatch(/^audit log OK: \d+ records/m)
    // Torn down: no lab state is left behind.
    expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
  })

  /**
   * Runs the demo in a process group of its own, as a terminal's foreground job, and once its lab is
   * up (the first `lab verify` has started) calls `interrupt` with the demo's pid and that command's.
   * Then: exit 1, "interrupted (SIGINT)", the lab torn down and its process gone.
   */
  async function interruptedDemo(interrupt: (demo: number, command: number) => void): Promise<void> {
    const cwd = tempDir()
    cleanup.push(cwd)
    const stateDir = join(cwd, 'lab')
    const child = spawn(process.execPath, [BIN, 'demo', '--state-dir', stateDir, '--zk', zk], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {...process.env, NO_COLOR: '1'},
    })
    let out = ''
    let daemon: number | undefined
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
    const labIsUp = new Promise<void>((r) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8')
        // The lab is up once the demo has moved on to the first `lab verify`.
        if (daemon === undefined && out.includes('$ lifeboat lab verify')) {
          daemon = (JSON.parse(readFileSync(join(stateDir, 'lab.json'), 'utf8')) as {daemon: {pid: number}}).daemon.pid
          r()
        }
      })
      child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
    })
    await Promise.race([labIsUp, exited])
    expect(daemon, out).toBeTypeOf('number')
    // The demo prints the command line, then starts it: wait for that child process.
    const children = `/proc/${child.pid}/task/${child.pid}/children`
    let command: number | undefined
    while (command === undefined && child.exitCode === null) {
      command = readFileSync(children, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)[0]
      if (command === undefined) await new Promise((r) => setTimeout(r, 20))
    }
    expect(command, out).toBeTypeOf('number')
    interrupt(child.pid!, command!)
    const code = await exited
    const workDir = /^Working directory: (.+)$/m.exec(out)?.[1]
    if (workDir) cleanup.push(workDir)
    expect(code, out).toBe(1)
    expect(out).toContain('the demo was interrupted (SIGINT)')
    expect(out).toContain(`$ lifeboat lab down --state-dir ${stateDir}`)
    expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
    let alive = true
    try {
      process.kill(daemon!, 0)
    } catch {
      alive = false
    }
    expect(alive).toBe(false)
  }

  it('tears the lab down when interrupted with Ctrl-C', async () => {
    // Ctrl-C reaches the demo and its current command.
    await interruptedDemo((demo) => process.kill(-demo, 'SIGINT'))
  })

  it('takes a command that died of Ctrl-C before the demo saw it as the interruption, not a failed step', async () => {
    // On a busy machine the command may die of the group's SIGINT before the demo's handler runs.
    await interruptedDemo((_demo, command) => process.kill(command, 'SIGINT'))
  })

  it('lists the known journeys for an unknown name, without a stack trace', async () => {
    const cwd = tempDir()
    cleanup.push(cwd)
    const r = expectExit(await lifeboat(['demo', 'no-such-journey'], {cwd}), 1)
    expect(r.stderr).toContain('there is no demo called "no-such-journey"')
    expect(r.stderr).toContain('pegasus-meta-recovery')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
