/**
 * The one colour helper: ANSI SGR sequences, on only when the caller says so (a terminal, no
 * --no-color, no NO_COLOR, no --json; the commands decide). Off, every paint returns its text.
 */

/** Paints a string; the empty string stays empty. */
export type Paint = (text: string) => string

export interface Palette {
  bold: Paint
  dim: Paint
  red: Paint
  green: Paint
  yellow: Paint
  cyan: Paint
  /** Any SGR code, e.g. 31 or '1;31'. */
  sgr(code: number | string): Paint
}

const plain: Paint = (t) => t

/** The palette for `on`. */
export function palette(on: boolean): Palette {
  const sgr = (code: number | string): Paint => (on ? (t) => (t === '' ? t : `\u001b[${code}m${t}\u001b[0m`) : plain)
  return {bold: sgr(1), dim: sgr(2), red: sgr(31), green: sgr(32), yellow: sgr(33), cyan: sgr(36), sgr}
}
