#!/usr/bin/env node
import {readFileSync, readdirSync, statSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)

// `lifeboat --version` answers before @oclif/core is even loaded (loading it alone doubles a bare
// node's start), in oclif's own words: `lifeboat/0.1.0 linux-x64 node-v20.19.0`.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  process.stdout.write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
  process.exit(0)
}

// `npm run build` writes oclif.manifest.json (scripts/oclif-manifest.js), so that a command starts
// without importing every command module. A manifest older than the compiled commands (a bare
// `tsc` run) would hide new commands and flags: drop it, and oclif loads the commands themselves.
const manifest = join(root, 'oclif.manifest.json')
try {
  const written = statSync(manifest).mtimeMs
  const newer = (dir) => readdirSync(dir, {withFileTypes: true}).some((e) =>
    e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.js') && statSync(join(dir, e.name)).mtimeMs > written)
  if (newer(join(root, 'dist', 'src', 'commands'))) unlinkSync(manifest)
} catch {
  // No manifest, or another run removed it meanwhile.
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
