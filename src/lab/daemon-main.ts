/**
 * Entry point of a detached lab process: `node daemon-main.js --state-dir DIR --scenario S [--zk HOST:PORT]`.
 * On failure it writes `daemon-error.json` in the state directory for `lab up` to report.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {LifeboatError, describeError} from '../errors.js'
import {hostLab} from './daemon.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const stateDir = arg('--state-dir') as string
try {
  const hosted = await hostLab({scenario: arg('--scenario') as string, stateDir, zk: arg('--zk'), detached: true})
  await hosted.stopped
  process.exit(0)
} catch (err) {
  const e =
    err instanceof LifeboatError
      ? err.toJSON()
      : {code: 'LAB_START_FAILED', message: describeError(err), hints: ['See lab.log in the state directory.'], exit: 1}
  writeFileSync(join(stateDir, 'daemon-error.json'), JSON.stringify(e))
  process.exit(1)
}
