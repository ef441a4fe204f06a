/** Brings TiKV labs up in-process for tests, and talks to them over HTTP as a client would. */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {parseJson} from '../../../src/http/json.js'
import {TikvLab} from '../../../src/lab/tikv/cluster.js'
import {parseTikvScenario} from '../../../src/lab/tikv/scenario.js'

export interface Reply {
  status: number
  text: string
  json: unknown
}

/** A built-in scenario document (YAML parsed), to adjust before bringing it up. */
export function scenarioDoc(
  name: string,
): Record<string, unknown> & {timing: Record<string, unknown>; faults: unknown[]} {
  return parse(readFileSync(join('src', 'lab', 'scenarios', `${name}.yaml`), 'utf8')) as never
}

export interface TestLab {
  lab: TikvLab
  dir: string
  logs: string[]
  get(path: string): Promise<Reply>
  post(path: string, body: string | object): Promise<Reply>
  close(): Promise<void>
}

export async function upLab(doc: Record<string, unknown>): Promise<TestLab> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-tikv-lab-'))
  const logs: string[] = []
  const lab = await TikvLab.up(parseTikvScenario(doc, 'test scenario'), dir, (l) => logs.push(l))
  const base = `http://${lab.layout.pd}`
  const call = async (path: string, init?: RequestInit): Promise<Reply> => {
    const res = await fetch(base + path, init)
    const text = await res.text()
    let json: unknown
    try {
      json = parseJson(text)
    } catch {
      json = undefined
    }
    return {status: res.status, text, json}
  }
  return {
    lab,
    dir,
    logs,
    get: (path) => call(path),
    post: (path, body) => call(path, {method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body)}),
    close: async () => {
      await lab.down()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Polls until `check` returns a value (not undefined), or fails after `limitMs` with the last state. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  limitMs = 30_000,
): Promise<T> {
  const until = Date.now() + limitMs
  let last: unknown
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `; last: ${JSON.stringify(last)}`}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface StageOut {
  info?: string
  time?: string
  actions?: Record<string, string[]>
  details?: string[]
}

/** Polls `show` until the recovery ends (Finished or Failed); returns the output. */
export async function showUntilDone(t: TestLab, limitMs = 30_000): Promise<StageOut[]> {
  return waitFor(
    'the recovery to end',
    async () => {
      const s = (await t.get('/pd/api/v1/admin/unsafe/remove-failed-stores/show')).json as StageOut[]
      const last = s.at(-1)?.info ?? ''
      return last.startsWith('Unsafe recovery Finished') || last.startsWith('Unsafe recovery Failed') ? s : undefined
    },
    limitMs,
  )
}
