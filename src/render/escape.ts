/**
 * Terminal escaping for free text: spec fields (a ticket, a comment) and names and messages that
 * come from the cluster can carry control characters, and a plan printed to a terminal or pasted
 * as markdown must not be able to clear the screen, hide lines, move the cursor or reorder text.
 * Pure. Every renderer passes free text through here (renderers add their own colour afterwards).
 */

/**
 * C0 controls other than tab and newline, DEL, C1 controls (U+0080-U+009F, where CSI U+009B is
 * an escape on its own), and the bidirectional overrides and isolates (which reorder what is shown).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = {
  '\r': '\\r',
  '\u001b': '\\e',
  '\u0007': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
  '\u0000': '\\0',
}

/** `text` with each unsafe character shown as a visible escape: ESC as `\e`, others as `\xNN` or `\u{NNNN}`. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const named = NAMED[ch]
    if (named !== undefined) return named
    const cp = ch.charCodeAt(0)
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`
  })
}

/** Whether `text` holds anything escapeControls would change. */
export function hasControls(text: string): boolean {
  UNSAFE.lastIndex = 0
  const found = UNSAFE.test(text)
  UNSAFE.lastIndex = 0
  return found
}

/**
 * A copy of `value` with every string (keys included) escaped; values without control
 * characters are returned as they are (the same object when nothing in it needed escaping).
 */
export function escapeControlsDeep<T>(value: T): T {
  // Most plans hold no control character at all: a walk that allocates nothing finds that out,
  // and only a value that needs escaping is copied.
  return anyControls(value) ? (deep(value) as T) : value
}

/** Whether a string holds a character UNSAFE matches, without a regular expression (this runs on every string of a plan). */
function unsafeIn(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 ? c !== 0x09 && c !== 0x0a : c >= 0x7f && isUnsafeFrom7f(c)) return true
  }
  return false
}

function isUnsafeFrom7f(c: number): boolean {
  return (
    c <= 0x9f ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069)
  )
}

/** Whether any string in `value`, keys included, holds anything escapeControls would change. */
function anyControls(value: unknown): boolean {
  if (typeof value === 'string') return unsafeIn(value)
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (anyControls(value[i])) return true
    return false
  }
  // for-in is the fastest walk of a plain object's keys; an inherited enumerable key (none in a
  // plan) could only cause a needless copy, never a missed escape.
  for (const k in value) {
    if (unsafeIn(k)) return true
    const v = (value as Record<string, unknown>)[k]
    if (typeof v === 'string' ? unsafeIn(v) : typeof v === 'object' && v !== null && anyControls(v)) return true
  }
  return false
}

function deep(value: unknown): unknown {
  if (typeof value === 'string') return hasControls(value) ? escapeControls(value) : value
  if (Array.isArray(value)) {
    let changed = false
    const out = value.map((v) => {
      const e = deep(v)
      if (e !== v) changed = true
      return e
    })
    return changed ? out : value
  }
  if (value !== null && typeof value === 'object') {
    let changed = false
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const ek = hasControls(k) ? escapeControls(k) : k
      const ev = deep(v)
      if (ek !== k || ev !== v) changed = true
      out[ek] = ev
    }
    return changed ? out : value
  }
  return value
}
