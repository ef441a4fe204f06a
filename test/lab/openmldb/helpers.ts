// Shared helpers of the OpenMLDB lab tests: scenarios built in code, a lab per test, raw HTTP calls.
import {mkdtempSync, rmSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseJson, stringifyJson} from '../../../src/http/json.js'
import {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario, type OpenMLDBScenario} from '../../../src/lab/openmldb/scenario.js'

let counter = 0

/** A scenario with its own ZooKeeper root and fast timings. */
export function scenario(doc: Record<string, unknown> = {}): OpenMLDBScenario {
  counter++
  const name = `om${process.pid}_${counter}_${Date.now() % 100000}`
  return parseOpenMLDBScenario(
    {
      engine: 'openmldb',
      name,
      nameservers: 2,
      tablets: 3,
      tables: [{name: 't1', db: 'db1', partitions: 4, replicas: 3, rows: 200}],
      ...doc,
      settings: {
        task_ms: 5,
        load_ms: 30,
        tablet_heartbeat_timeout_ms: 300,
        table_status_interval_ms: 100,
        ...((doc.settings as object | undefined) ?? {}),
      },
    },
    'test',
  )
}

/** Brings a lab up in a fresh state directory; `close` stops it and removes the directory. */
export async function startLab(
  zk: string,
  s: OpenMLDBScenario,
): Promise<{lab: OpenMLDBLab; dir: string; close: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-omlab-test-'))
  const lab = await OpenMLDBLab.up({scenario: s, stateDir: dir, zkHosts: zk})
  return {
    lab,
    dir,
    close: async () => {
      await lab.down()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

export interface RawReply {
  status: number
  text: string
  json?: Record<string, unknown>
}

/** A raw HTTP POST, headers as given (no Authorization unless passed). */
export function post(
  endpoint: string,
  path: string,
  body: string,
  headers: Record<string, string> = {Authorization: 'foo'},
): Promise<RawReply> {
  const i = endpoint.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: endpoint.slice(0, i),
        port: Number(endpoint.slice(i + 1)),
        path,
        method: 'POST',
        headers: {...headers, 'Content-Length': Buffer.byteLength(body)},
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: Record<string, unknown> | undefined
          try {
            json = parseJson(text) as Record<string, unknown>
          } catch {
            json = undefined
          }
          resolve({status: res.statusCode ?? 0, text, ...(json ? {json} : {})})
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** POST /NameServer/<method> (or TabletServer) with a JSON body; the parsed reply. */
export async function rpc(
  endpoint: string,
  service: 'NameServer' | 'TabletServer',
  method: string,
  body: unknown = {},
): Promise<Record<string, unknown>> {
  const r = await post(endpoint, `/${service}/${method}`, stringifyJson(body))
  if (r.status !== 200 || !r.json) throw new Error(`${method}: HTTP ${r.status} ${r.text}`)
  return r.json
}

/** Polls `fn` until it returns a value that is not undefined (deadline 30 s). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  deadlineMs = 30_000,
): Promise<T> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export function cleanup(dir: string): void {
  rmSync(dir, {recursive: true, force: true})
}
