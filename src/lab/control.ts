/**
 * The lab's control channel: HTTP on 127.0.0.1 with a per-lab bearer token (kept in the 0600
 * state file), served by the process that hosts the lab. `lab status`, `lab fault` and `lab down`
 * go through it.
 */
import http from 'node:http'

import {LifeboatError, describeError} from '../errors.js'
import type {LabState} from './state.js'

/** Sends one control request and returns the JSON answer; errors come back as LifeboatErrors. */
export function controlRequest<T>(
  state: LabState,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<T> {
  const [host, port] = [state.daemon.control.split(':')[0], Number(state.daemon.control.split(':')[1])]
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        method,
        path,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${state.daemon.token}`,
          'content-type': 'application/json',
          ...(payload ? {'content-length': payload.length} : {}),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => {
          let parsed: unknown
          try {
            parsed = JSON.parse(text)
          } catch {
            return reject(
              new LifeboatError(
                'LAB_CONTROL_FAILED',
                `the lab at ${state.daemon.control} answered something that is not JSON`,
                {hints: ['See the lab log: lab.log in the state directory.']},
              ),
            )
          }
          const err = (parsed as {error?: {code: string; message: string; detail?: string; hints?: string[]}}).error
          if (res.statusCode !== 200 && err)
            return reject(new LifeboatError(err.code, err.message, {detail: err.detail, hints: err.hints}))
          if (res.statusCode !== 200)
            return reject(
              new LifeboatError('LAB_CONTROL_FAILED', `the lab answered HTTP ${res.statusCode}`, {
                hints: ['See lab.log in the state directory.'],
              }),
            )
          resolve(parsed as T)
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (e) =>
      reject(
        new LifeboatError(
          'LAB_CONTROL_FAILED',
          `cannot reach the lab's control channel at ${state.daemon.control}: ${describeError(e)}`,
          {
            hints: [
              `Check the lab process ${state.daemon.pid} (lab.log in ${state.state_dir}); lifeboat lab down cleans up after it.`,
            ],
          },
        ),
      ),
    )
    if (payload) req.write(payload)
    req.end()
  })
}
