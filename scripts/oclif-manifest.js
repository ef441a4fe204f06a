// Writes oclif.manifest.json after `tsc`, so that oclif reads every command's flags and help from
// one file instead of importing every command module at start (`lifeboat --version` then starts in
// about the time of a bare `node`). When a command module fails to load (an unfinished edit), no
// manifest is written and the old one is removed: oclif then loads the commands themselves.
import {rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Plugin} from '@oclif/core'

import {digestCommands} from '../bin/commands-digest.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const file = join(root, 'oclif.manifest.json')
rmSync(file, {force: true})
const plugin = new Plugin({root, isRoot: true, type: 'core', ignoreManifest: true, errorOnManifestCreate: true})
try {
  await plugin.load()
  writeFileSync(
    file,
    `${JSON.stringify({...plugin.manifest, commandsDigest: digestCommands(join(root, 'dist', 'src', 'commands'))}, null, 2)}\n`,
  )
  console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
} catch (err) {
  console.warn(
    `oclif.manifest.json not written (commands load at every start instead): ${String(
      err?.detail ?? err?.message ?? err,
    )
      .split('\n')
      .slice(0, 3)
      .join('; ')}`,
  )
}
