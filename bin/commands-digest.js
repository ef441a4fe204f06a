// The digest of the compiled command modules (paths and contents), stored in oclif.manifest.json
// by scripts/oclif-manifest.js and checked by bin/run.js before oclif reads the manifest.
import {createHash} from 'node:crypto'
import {readFileSync, readdirSync} from 'node:fs'
import {join, relative} from 'node:path'

/** sha256 over every `.js` file under `dir`, in sorted path order. */
export function digestCommands(dir) {
  const files = []
  const walk = (d) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      if (e.isDirectory()) walk(join(d, e.name))
      else if (e.name.endsWith('.js')) files.push(join(d, e.name))
    }
  }
  walk(dir)
  const hash = createHash('sha256')
  for (const f of files.sort())
    hash
      .update(`${relative(dir, f)}\0`)
      .update(readFileSync(f))
      .update('\0')
  return hash.digest('hex')
}
