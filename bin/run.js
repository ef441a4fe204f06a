#!/usr/bin/env node
import {readFileSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'

import {digestCommands} from './commands-digest.js'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)

// `lifeboat --version` answers before @oclif/core is even loaded (loading it alone doubles a bare
// node's start), in oclif's own words: `lifeboat/0.1.0 linux-x64 node-v20.19.0`.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  process.stdout.write(
    `${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
  process.exit(0)
}

// `npm run build` writes oclif.manifest.json (scripts/oclif-manifest.js), so that a command starts
// without importing every command module. It carries a digest of the compiled command files; a
// manifest that does not match them (commands added or changed since) would hide new commands and
// flags: it is dropped, and oclif loads the commands themselves.
const manifest = join(root, 'oclif.manifest.json')
try {
  const {commandsDigest} = JSON.parse(readFileSync(manifest, 'utf8'))
  if (commandsDigest !== digestCommands(join(root, 'dist', 'src', 'commands'))) unlinkSync(manifest)
} catch {
  // No manifest, or another run removed it meanwhile.
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
