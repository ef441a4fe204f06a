/** Number formatting shared by plan messages and renderers; locale-independent on purpose. */

/** `63990` → `63,990`: the same on every machine whatever its locale. */
export function groupDigits(n: number): string {
  const sign = n < 0 ? '-' : ''
  const digits = String(Math.trunc(Math.abs(n)))
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** `1 table`, `8 partitions`: the count and the noun, plural when needed. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${groupDigits(n)} ${n === 1 ? singular : plural}`
}
