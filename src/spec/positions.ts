/**
 * From a JSON pointer in the parsed document back to a line and column in the YAML text.
 */
import {isAlias, isMap, isPair, isScalar, isSeq} from 'yaml'
import type {Document, LineCounter, Node, Pair} from 'yaml'

/** A position, 1-based. */
export interface Position {
  line: number
  col: number
}

/** `/a/b~1c/0` → `['a', 'b/c', '0']`. */
export function splitPointer(pointer: string): string[] {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** `['a', 'b/c', 0]` → `/a/b~1c/0`. */
export function joinPointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

/** What a pointer resolves to: the value node, and the pair whose value it is (for the key's position). */
export interface Located {
  node?: Node
  pair?: Pair
  /** How many segments resolved; fewer than the pointer's means a missing part. */
  depth: number
}

function deref(doc: Document, node: unknown): unknown {
  // An alias stands for its anchor's node; follow it so positions inside aliased maps resolve.
  let n = node
  for (let i = 0; i < 100 && isAlias(n); i++) n = n.resolve(doc)
  return n
}

/** Walks the YAML nodes along a pointer, as far as it goes. */
export function locate(doc: Document, pointer: string): Located {
  const segments = splitPointer(pointer)
  let node = deref(doc, doc.contents) as Node | undefined
  let pair: Pair | undefined
  let depth = 0
  for (const seg of segments) {
    if (isMap(node)) {
      const found = node.items.find((p) => isPair(p) && keyText(p.key) === seg)
      if (!found) break
      pair = found as Pair
      node = deref(doc, found.value) as Node | undefined
    } else if (isSeq(node)) {
      const idx = /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : -1
      const item = idx >= 0 ? node.items[idx] : undefined
      if (item === undefined) break
      pair = undefined
      node = deref(doc, item) as Node | undefined
    } else {
      break
    }
    depth++
  }
  return {node: node ?? undefined, pair, depth}
}

/** The string a key becomes in the JS object (yaml stringifies non-string scalar keys). */
export function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value)
  if (typeof key === 'string' || typeof key === 'number') return String(key)
  return undefined
}

/** Offset → position. */
export function posAt(lc: LineCounter, offset: number): Position {
  const p = lc.linePos(offset)
  return {line: p.line, col: p.col}
}

/** Where a value is (its node's start); falls back to the deepest node found, then to the top. */
export function valuePos(doc: Document, lc: LineCounter, pointer: string): Position {
  const {node, pair} = locate(doc, pointer)
  const n = node ?? (pair?.key as Node | undefined)
  if (n?.range) return posAt(lc, n.range[0])
  return topPos(doc, lc)
}

/** Where a key is: for `/a/b` the `b:` key of map `a`; for an array item, the item. */
export function keyPos(doc: Document, lc: LineCounter, pointer: string): Position {
  const segments = splitPointer(pointer)
  const found = locate(doc, pointer)
  if (found.depth === segments.length && found.pair && isScalar(found.pair.key) && found.pair.key.range) {
    return posAt(lc, found.pair.key.range[0])
  }
  return valuePos(doc, lc, pointer)
}

/** Where the document's content starts (after leading comments), or 1:1. */
export function topPos(doc: Document, lc: LineCounter): Position {
  const r = (doc.contents as Node | null)?.range
  return r ? posAt(lc, r[0]) : {line: 1, col: 1}
}

/** The source text of the node at a pointer, for messages such as "quote it: \"1.10\"". */
export function sourceText(doc: Document, text: string, pointer: string): string | undefined {
  const {node, depth} = locate(doc, pointer)
  if (depth !== splitPointer(pointer).length || !node?.range) return undefined
  return text.slice(node.range[0], node.range[1])
}
