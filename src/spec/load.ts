/**
 * Loading a spec: read safely, parse keeping positions, validate against the schema, then the
 * semantic checks. Every problem is a diagnostic; nothing here throws for bad input.
 */
import {createHash} from 'node:crypto'
import {dirname, resolve} from 'node:path'

import {LineCounter, isMap, isPair, isScalar, parseDocument, visit} from 'yaml'
import type {Document, YAMLError} from 'yaml'

import {topPos} from './positions.js'
import {decodeText, readTextFile} from './read-file.js'
import {extraKindValidator, specKinds, specValidators} from './schema.js'
import {errorPaths, schemaDiagnostics} from './schema-errors.js'
import {semanticChecks} from './semantic.js'
import {type Diagnostic, type LoadedSpec, type LoadOptions, type LoadResult, type Spec} from './types.js'

/** Aliases allowed per document: enough for shared blocks, far too few for a "billion laughs". */
const MAX_ALIAS_COUNT = 100

const DUPLICATE_KEY_HINT = 'a key may appear once per map; remove or merge the repeated one'
const EMPTY_SPEC_HINT = 'a spec needs apiVersion, kind, metadata, cluster and recovery'

/** Problems listed per file; past this a file is not a spec with typos but something else. */
export const MAX_DIAGNOSTICS = 200

/**
 * Duplicate keys, found with a set per map. yaml's own `uniqueKeys` check compares each key with
 * every earlier one, which takes minutes on a 1 MiB file of distinct keys.
 */
function duplicateKeys(doc: Document, lc: LineCounter, file: string): Diagnostic[] {
  const out: Diagnostic[] = []
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return
      const seen = new Map<string, number>()
      for (const pair of map.items) {
        if (!isPair(pair) || !isScalar(pair.key) || !pair.key.range) continue
        const key = String(pair.key.value)
        const first = seen.get(key)
        if (first === undefined) {
          seen.set(key, pair.key.range[0])
          continue
        }
        const pos = lc.linePos(pair.key.range[0])
        out.push(
          diag(
            'DUPLICATE_KEY',
            file,
            pos.line,
            pos.col,
            `key "${key}" appears twice in the same map (first on line ${lc.linePos(first).line})`,
            DUPLICATE_KEY_HINT,
          ),
        )
      }
    },
  })
  return out
}

/** Reads, parses and validates a spec file. */
export async function loadSpecFile(path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const read = await readTextFile(path, {file: path, line: 1, col: 1, path: ''}, 'spec')
  if (!read.ok) return {ok: false, diagnostics: [read.diagnostic]}
  return validate(read.text, read.bytes, path, {...opts, baseDir: opts.baseDir ?? dirname(resolve(path))})
}

/** Validates spec text as if read from `fileName` (relative paths in it resolve from `opts.baseDir` or the file's directory). */
export async function validateSpecText(text: string, fileName: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const bytes = Buffer.from(text, 'utf8')
  const decoded = decodeText(bytes)
  if (!decoded.ok) return result([diag('BINARY_FILE', fileName, 1, 1, `${fileName} is not text: ${decoded.reason}`)])
  return validate(decoded.text, bytes, fileName, opts)
}

function diag(
  code: string,
  file: string,
  line: number,
  col: number,
  message: string,
  hint?: string,
  path = '',
): Diagnostic {
  return {code, severity: 'error', message, hint, file, line, col, path}
}

function yamlCode(e: YAMLError): {code: string; hint?: string} {
  switch (e.code) {
    case 'DUPLICATE_KEY':
      return {code: 'DUPLICATE_KEY', hint: DUPLICATE_KEY_HINT}
    case 'TAB_AS_INDENT':
      return {code: 'YAML_SYNTAX', hint: 'YAML indentation must use spaces, not tabs'}
    case 'MULTIPLE_DOCS':
      return {code: 'MULTIPLE_DOCUMENTS', hint: 'one spec per file: split the documents into separate files'}
    default:
      return {code: 'YAML_SYNTAX'}
  }
}

/** yaml's message without its " at line L, column C:" suffix and code frame (the position is ours to print). */
function yamlMessage(e: YAMLError): string {
  if (e.code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document'
  const first = e.message.split('\n')[0] ?? e.message
  return first.replace(/ at line \d+, column \d+:?$/, '')
}

function sortDiagnostics(ds: Diagnostic[], mainFile: string): Diagnostic[] {
  return [...ds].sort(
    (a, b) =>
      (a.file === mainFile ? 0 : 1) - (b.file === mainFile ? 0 : 1) ||
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.col - b.col ||
      a.code.localeCompare(b.code) ||
      a.path.localeCompare(b.path),
  )
}

function result(diagnostics: Diagnostic[], spec?: LoadedSpec, file = ''): LoadResult {
  let sorted = sortDiagnostics(diagnostics, file || (diagnostics[0]?.file ?? ''))
  if (sorted.length > MAX_DIAGNOSTICS) {
    const rest = sorted.length - MAX_DIAGNOSTICS
    const next = sorted[MAX_DIAGNOSTICS]!
    sorted = [
      ...sorted.slice(0, MAX_DIAGNOSTICS),
      {
        ...next,
        code: 'TOO_MANY_PROBLEMS',
        severity: 'error',
        path: '',
        message: `${rest} more ${rest === 1 ? 'problem' : 'problems'} not listed`,
        hint: 'fix the problems above first; is this the right file?',
      },
    ]
  }
  const ok = !sorted.some((d) => d.severity === 'error')
  return ok && spec ? {ok, spec, diagnostics: sorted} : {ok, diagnostics: sorted}
}

async function validate(text: string, bytes: Buffer, file: string, opts: LoadOptions): Promise<LoadResult> {
  if (text.trim() === '') return result([diag('EMPTY_FILE', file, 1, 1, `${file} is empty`, EMPTY_SPEC_HINT)])

  const lc = new LineCounter()
  let doc: Document
  try {
    doc = parseDocument(text, {lineCounter: lc, prettyErrors: true, uniqueKeys: false, strict: true})
  } catch (err) {
    // The parser recurses per nesting level; absurd nesting exhausts the stack.
    return result([
      diag(
        'YAML_SYNTAX',
        file,
        1,
        1,
        `${file} cannot be parsed: ${err instanceof RangeError ? 'it is nested too deeply' : String(err)}`,
      ),
    ])
  }

  const diagnostics: Diagnostic[] = []
  for (const e of doc.errors) {
    const {code, hint} = yamlCode(e)
    const pos = e.linePos?.[0] ?? {line: 1, col: 1}
    diagnostics.push(diag(code, file, pos.line, pos.col, yamlMessage(e), hint))
  }
  for (const w of doc.warnings) {
    const pos = w.linePos?.[0] ?? {line: 1, col: 1}
    diagnostics.push({...diag('YAML_WARNING', file, pos.line, pos.col, yamlMessage(w)), severity: 'warning'})
  }
  // Anything yaml calls an error leaves a structure not worth validating.
  if (doc.errors.length > 0) return result(diagnostics, undefined, file)
  // Duplicate keys leave a usable document (the last value wins), so validation goes on.
  diagnostics.push(...duplicateKeys(doc, lc, file))

  let data: unknown
  try {
    data = doc.toJS({maxAliasCount: MAX_ALIAS_COUNT})
  } catch (err) {
    const message =
      err instanceof RangeError ? 'it is nested too deeply' : err instanceof Error ? err.message : String(err)
    const aliases = /alias/i.test(message)
    diagnostics.push(
      diag(
        aliases ? 'YAML_ALIAS_LIMIT' : 'YAML_SYNTAX',
        file,
        1,
        1,
        aliases
          ? `${file} expands aliases more than ${MAX_ALIAS_COUNT} times`
          : `${file} cannot be read as data: ${message}`,
        aliases ? 'aliases that expand exponentially ("billion laughs") are refused; write the values out' : undefined,
      ),
    )
    return result(diagnostics, undefined, file)
  }
  if (data === null || data === undefined) {
    diagnostics.push(
      diag('EMPTY_FILE', file, 1, 1, `${file} holds no document (only comments or an empty value)`, EMPTY_SPEC_HINT),
    )
    return result(diagnostics, undefined, file)
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    const pos = topPos(doc, lc)
    diagnostics.push(
      diag(
        'SCHEMA_TYPE',
        file,
        pos.line,
        pos.col,
        `a spec must be a map of fields, found ${Array.isArray(data) ? 'a list' : `a ${typeof data}`}`,
        'start with apiVersion: lifeboat/v1 and kind: ...',
      ),
    )
    return result(diagnostics, undefined, file)
  }
  const document = data as Record<string, unknown>

  const extra = opts.extraKinds ?? {}
  const known = specKinds()
  const kinds = [...known, ...Object.keys(extra).filter((k) => !known.includes(k))]
  const builtIn = specValidators()
  const kind = typeof document.kind === 'string' ? document.kind : undefined
  const ownKind = kind === undefined ? undefined : builtIn.kind(kind)
  const pluginKind = kind !== undefined && !ownKind && kind in extra
  const validator = ownKind ?? (pluginKind ? extraKindValidator(extra[kind as string]!) : builtIn.root())

  // Defaults go into a copy: `document` stays exactly as written (it is embedded in plans).
  const withDefaults = structuredClone(document)
  validator(withDefaults)
  // A few hundred of ajv's errors say all there is to say; mapping each costs a walk of the document.
  const schemaDiags = schemaDiagnostics((validator.errors ?? []).slice(0, MAX_DIAGNOSTICS * 2), {
    doc,
    lc,
    text,
    file,
    data: document,
    kinds,
    rootSchema: pluginKind ? (extra[kind as string] as Record<string, unknown>) : builtIn.schema,
  })
  diagnostics.push(...schemaDiags)

  const dir = opts.baseDir ?? dirname(resolve(file))
  const check = kind === undefined ? undefined : (await opts.engines?.get(kind)?.load())?.checkSpec
  const semantic =
    kind !== undefined && check
      ? await semanticChecks(
          {
            doc,
            lc,
            file,
            dir,
            data: document,
            kind,
            reported: errorPaths(schemaDiags),
            restrictPaths: opts.restrictPaths,
          },
          check,
        )
      : {diagnostics: [] as Diagnostic[], targetNodes: undefined}
  diagnostics.push(...semantic.diagnostics)

  const metadata = (document.metadata ?? {}) as Record<string, unknown>
  const spec: LoadedSpec = {
    path: file,
    dir,
    source: text,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    document,
    spec: withDefaults as unknown as Spec,
    kind: kind ?? '',
    name: typeof metadata.name === 'string' ? metadata.name : '',
    ...(typeof metadata.ticket === 'string' ? {ticket: metadata.ticket} : {}),
    ...(semantic.targetNodes ? {targetNodes: semantic.targetNodes} : {}),
  }
  return result(diagnostics, spec, file)
}
