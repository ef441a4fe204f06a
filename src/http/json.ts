/**
 * Lossless JSON for HTTP replies. brpc (OpenMLDB) and PD (TiKV) write 64-bit offsets, op ids,
 * region ids and Raft indexes as bare JSON numbers; `JSON.parse` rounds those past 2^53. Here an
 * integer literal beyond Number.MAX_SAFE_INTEGER becomes a bigint, every other number a number,
 * and a bigint is written back as plain digits, the way those servers write it.
 */
import {parse, stringify} from 'lossless-json'

const INTEGER = /^-?\d+$/

/** A JSON number literal as a value: bigint for integers no number holds exactly, number otherwise. */
function parseNumber(literal: string): number | bigint {
  if (INTEGER.test(literal)) {
    const n = Number(literal)
    return Number.isSafeInteger(n) ? n : BigInt(literal)
  }
  return Number(literal)
}

/**
 * Parses JSON text. Integers beyond Number.MAX_SAFE_INTEGER (either sign) become bigint; other
 * numbers are numbers. Throws a SyntaxError on invalid JSON (and on a key repeated with different
 * values, which JSON.parse would silently resolve).
 */
export function parseJson(text: string): unknown {
  return parse(text, null, parseNumber)
}

/**
 * Writes a value as JSON with bigint as plain digits (`{"id":18446744073709551615}`); otherwise as
 * JSON.stringify would (undefined members dropped, toJSON honoured).
 */
export function stringifyJson(value: unknown): string {
  const text = stringify(value)
  if (text === undefined) throw new TypeError(`cannot write ${typeof value} as JSON`)
  return text
}
