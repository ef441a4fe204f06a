/**
 * The terminal rendering of a plan, in Terraform's idioms: a header, a legend of the symbols in
 * use, `# <address> will be created` with a unified diff of the JSON documents, primaries,
 * numbered steps with their risk, findings, and the summary line last.
 *
 * Pure: the plan and the options in, a string out. Colour only when asked. Prose wraps to the
 * width; diff lines never wrap (a wrapped JSON line reads as two lines), they are cut with `…`.
 */
import {planHasChanges} from '../plan/build.js'
import {countOf, groupDigits} from '../plan/numbers.js'
import type {Candidate, Change, FactColumn, Finding, Plan, PrimaryChange, RiskClass, Step} from '../plan/types.js'
import {
  ACTION_PHRASE,
  ACTION_SYMBOL,
  LEGEND,
  changeDiff,
  changeNoun,
  changeShape,
  clusterFacts,
  collapseRuns,
  digitTemplate,
  factText,
  lastDigitTemplate,
  parentAddresses,
  findingShape,
  leadershipOf,
  nodeOrNone,
  observedPairs,
  presentColumns,
  primaryShape,
  stepShape,
} from './common.js'
import {planSummaryLine} from './summary.js'
import {escapeControlsDeep} from './escape.js'
import {palette} from '../util/colour.js'

/** How to render: colour (ANSI) or not, and the terminal width in columns. */
export interface TextOptions {
  color: boolean
  width: number
  /** Show every item: no `... and N more like these` (`--full`). */
  full?: boolean
}

type Paint = (text: string) => string

interface Style {
  bold: Paint
  dim: Paint
  green: Paint
  yellow: Paint
  red: Paint
}

function style(color: boolean): Style {
  const p = palette(color)
  return {bold: p.bold, dim: p.dim, green: p.green, yellow: p.yellow, red: p.red}
}

/** The narrowest width honoured; below it the layout would be unreadable anyway. */
const MIN_WIDTH = 40

/** The whole plan for a terminal, ending with a newline. */
export function renderPlanText(input: Plan, opts: TextOptions): string {
  // Free text from the spec and the cluster cannot drive the terminal (render/escape.ts).
  const plan = escapeControlsDeep(input)
  const width = Math.max(MIN_WIDTH, Math.floor(opts.width) || 80)
  const st = style(opts.color)
  const out: string[] = []
  const prose = (text: string, indent: string, hanging = indent) => out.push(...wrap(text, width, indent, hanging))

  renderHeader(plan, st, prose)

  if (!planHasChanges(plan)) {
    renderFindings(plan.findings, st, prose, out, opts.full)
    if (!plan.applyable) out.push('', ...notApplyable(plan, st, width))
    out.push('', ...wrap(st.bold(planSummaryLine(plan)), width, '', ''))
    return `${out.join('\n')}\n`
  }

  // The legend names every symbol the plan below uses: change actions, assigned leaders, chosen candidates.
  const used = new Set(plan.changes.map((c) => c.action))
  const legend: Array<[string, string]> = LEGEND.filter(([a]) => used.has(a)).map(([a, words]) => [
    paintAction(a, ACTION_SYMBOL[a], st),
    words,
  ])
  if (plan.primaries.length > 0) {
    const words = leadershipOf(plan)
    legend.push([paintAction('update', '~', st), `${words.role.one} assigned to a ${words.item.one} (before → after)`])
    if (plan.primaries.some((p) => p.candidates.length > 0))
      legend.push(['*', `the ${words.role.one} chosen among the candidates`])
  }
  if (legend.length > 0) {
    out.push('')
    prose('lifeboat will perform the following actions, indicated with the following symbols:', '')
    for (const [symbol, words] of legend) out.push(`  ${symbol} ${words}`)
  }

  const changes = plan.changes.filter((c) => c.action !== 'no-op')
  if (changes.length > 0) {
    out.push('', st.bold('Metadata changes:'))
    const parents = parentAddresses(changes)
    for (const entry of collapseRuns(changes, (c) => changeShape(c, parents), opts.full)) {
      out.push('')
      if ('more' in entry) {
        const {one, many} = changeNoun(entry.like, plan.vocabulary)
        prose(
          `... and ${groupDigits(entry.more)} more ${entry.more === 1 ? one : many} like these (${lastDigitTemplate(entry.like.address)}, ${ACTION_PHRASE[entry.like.action].replace('will be ', '')}; --full shows them)`,
          '  ',
          '      ',
        )
        continue
      }
      renderChange(entry.item, st, width, prose, out)
    }
  }

  if (plan.primaries.length > 0) {
    const words = leadershipOf(plan)
    out.push('', st.bold(`${words.heading} (${groupDigits(plan.primaries.length)}):`))
    for (const entry of collapseRuns(plan.primaries, primaryShape, opts.full)) {
      out.push('')
      if ('more' in entry) {
        const of = entry.like.table ? ` of ${entry.like.table}` : ` like ${lastDigitTemplate(entry.like.partition)}`
        prose(
          `... and ${countOf(entry.more, `more ${words.item.one}`, `more ${words.item.many}`)}${of} like these (${paintRisk(entry.like.risk, entry.like.risk, st)}: ${digitTemplate(entry.like.reason)}; --full shows them)`,
          '  ',
          '      ',
        )
        continue
      }
      renderPrimary(entry.item, words, st, width, prose, out)
    }
  }

  if (plan.steps.length > 0) {
    out.push('', st.bold('Steps (apply runs them in this order):'))
    const numberWidth = String(plan.steps.length).length
    for (const entry of collapseRuns(plan.steps, stepShape, opts.full)) {
      if ('more' in entry) {
        prose(
          `${' '.repeat(numberWidth + 2)}... and ${countOf(entry.more, 'more step', 'more steps')} like these (${entry.like.kind}, ${entry.like.risk}; --full shows them)`,
          '  ',
          '      ',
        )
        continue
      }
      renderStep(entry.item, entry.index + 1, numberWidth, st, prose)
    }
  }

  renderFindings(plan.findings, st, prose, out, opts.full)

  if (plan.approvals.length > 0) {
    out.push('', st.bold('Approvals:'))
    for (const a of plan.approvals) prose(`${a.name} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`, '  ', '    ')
  }

  if (!plan.applyable) out.push('', ...notApplyable(plan, st, width))
  out.push('', ...wrap(st.bold(planSummaryLine(plan)), width, '', ''))
  return `${out.join('\n')}\n`
}

function renderHeader(plan: Plan, st: Style, prose: (t: string, i: string, h?: string) => void): void {
  prose(
    st.bold(
      `lifeboat plan: ${plan.spec.kind} "${plan.spec.name}"${plan.spec.ticket ? ` (ticket ${plan.spec.ticket})` : ''}`,
    ),
    '',
  )
  const facts = clusterFacts(plan)
    .map(([label, value]) => `, ${label} ${value}`)
    .join('')
  prose(`Cluster:  ${plan.cluster.name}${facts}`, '', '          ')
  const pairs = observedPairs(plan.observed.summary)
  prose(
    `Observed: ${[...pairs, `fingerprint\u00a0${plan.observed.fingerprint.slice(0, 12)}`].join(', ')}`,
    '',
    '          ',
  )
  prose(
    `Plan:     digest ${plan.digest.slice(0, 12)}, made ${plan.createdAt} by lifeboat ${plan.tool.version}`,
    '',
    '          ',
  )
}

function renderChange(
  c: Change,
  st: Style,
  width: number,
  prose: (t: string, i: string, h?: string) => void,
  out: string[],
): void {
  out.push(st.bold(cut(`  # ${c.address} ${ACTION_PHRASE[c.action]}`, width)))
  if (c.reason) prose(`(${c.reason})`, '    ', '     ')
  for (const line of changeDiff(c)) {
    if (line.marker === '@') {
      out.push(st.dim(cut(`    ${line.text}`, width)))
      continue
    }
    const marker = line.marker === ' ' ? ' ' : line.marker
    const text = cut(`  ${marker} ${line.text}`, width)
    out.push(line.marker === '+' ? st.green(text) : line.marker === '-' ? st.red(text) : text)
  }
}

function renderPrimary(
  p: PrimaryChange,
  words: ReturnType<typeof leadershipOf>,
  st: Style,
  width: number,
  prose: (t: string, i: string, h?: string) => void,
  out: string[],
): void {
  const head = `  ${paintAction('update', '~', st)} ${p.partition}${p.table ? ` (${p.table})` : ''}: ${nodeOrNone(p.before)} → ${st.bold(nodeOrNone(p.after))}  ${paintRisk(p.risk, `[${p.risk}]`, st)}`
  out.push(head)
  prose(`because: ${p.reason}`, '      ', '               ')
  if (p.atStake) prose(st.red(`at stake: ${p.atStake}`), '      ', '                ')
  for (const col of words.changeFacts ?? []) {
    const value = factText(p.facts?.[col.name])
    if (value !== '') prose(`${col.label}: ${value}`, '      ', ' '.repeat(8 + col.label.length))
  }
  if (p.candidates.length > 0) {
    for (const line of candidateTable(p.candidates, p.after, words.candidateFacts))
      out.push(cut(`      ${line}`, width))
  }
}

/**
 * The candidates as a small table: the node, the engine's declared columns that some candidate has
 * a value for (in declared order), and marks. `*` marks the chosen one.
 */
function candidateTable(candidates: Candidate[], chosen: string | null, declared: readonly FactColumn[]): string[] {
  const columns: [string, (c: Candidate) => string][] = [
    ['node', (c) => c.node],
    ...presentColumns(declared, candidates).map((col): [string, (c: Candidate) => string] => [
      col.label,
      (c) => factText(c.facts[col.name]),
    ]),
    ['marks', (c) => (c.marks ?? []).join(', ')],
  ]
  const present = columns.filter(([, get], i) => i < columns.length - 1 || candidates.some((c) => get(c) !== ''))
  const rows = [present.map(([h]) => h), ...candidates.map((c) => present.map(([, get]) => get(c)))]
  const widths = present.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r, i) => {
    const mark = i === 0 ? '  ' : candidates[i - 1]!.node === chosen ? '* ' : '  '
    return `${mark}${r.map((cell, j) => cell.padEnd(widths[j]!)).join('  ')}`.trimEnd()
  })
}

function renderStep(
  s: Step,
  n: number,
  numberWidth: number,
  st: Style,
  prose: (t: string, i: string, h?: string) => void,
): void {
  const indent = ' '.repeat(numberWidth + 4)
  const label = `${s.manual ? 'manual, ' : ''}${s.risk}`
  prose(
    `${String(n).padStart(numberWidth)}. ${paintRisk(s.risk, `[${label}]`, st)} ${st.bold(s.id)}: ${s.description}`,
    '  ',
    indent,
  )
  if (s.riskReason) {
    const why = `${s.risk === 'lossy' ? 'may lose data' : 'why'}: ${s.riskReason}`
    prose(s.risk === 'lossy' ? st.red(why) : st.yellow(why), indent)
  }
  if (s.expect) prose(`expect: ${s.expect}`, indent, `${indent}        `)
  if (s.manual) {
    prose('by hand: apply shows these instructions and waits for your confirmation', indent)
    s.manual.instructions.forEach((line, i) => prose(`${i + 1}) ${line}`, `${indent}  `, `${indent}     `))
  }
}

function renderFindings(
  findings: Finding[],
  st: Style,
  prose: (t: string, i: string, h?: string) => void,
  out: string[],
  full?: boolean,
): void {
  if (findings.length === 0) return
  out.push('', st.bold('Findings:'))
  for (const entry of collapseRuns(findings, findingShape, full)) {
    if ('more' in entry) {
      prose(
        `... and ${groupDigits(entry.more)} more ${entry.like.code} ${entry.like.severity === 'info' ? 'notes' : `${entry.like.severity}s`} like these`,
        '  ',
        '      ',
      )
      continue
    }
    const f = entry.item
    const label =
      f.severity === 'error'
        ? st.red(st.bold('Error:'))
        : f.severity === 'warning'
          ? st.yellow(st.bold('Warning:'))
          : st.bold('Info:')
    prose(`${label} ${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}`, '  ', '    ')
    if (f.hint) prose(`hint: ${f.hint}`, '    ', '          ')
  }
}

function notApplyable(plan: Plan, st: Style, width: number): string[] {
  const errors = plan.findings.filter((f) => f.severity === 'error').length
  return wrap(st.red(`This plan cannot be applied: ${countOf(errors, 'error')} must be resolved first.`), width, '', '')
}

function paintAction(action: Change['action'], text: string, st: Style): string {
  return action === 'create'
    ? st.green(text)
    : action === 'delete'
      ? st.red(text)
      : action === 'update'
        ? st.yellow(text)
        : text
}

function paintRisk(risk: RiskClass, text: string, st: Style): string {
  switch (risk) {
    case 'lossy':
      return st.red(st.bold(text))
    case 'disruptive':
      return st.yellow(text)
    case 'safe':
      return st.green(text)
    default:
      return text
  }
}

// ANSI sequences take no columns; strip them when measuring.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

function visibleLength(text: string): number {
  return text.includes('\u001b') ? text.replace(ANSI, '').length : text.length
}

/** Cuts a line that would not fit, marking the cut with `…`. Only for uncoloured text. */
function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

/**
 * Word-wraps prose to `width`: the first line after `indent`, the rest after `hanging`. A word
 * longer than a line is cut with `…`; colour sequences do not count towards the width. A
 * no-break space (U+00A0) joins two words that must stay on one line; it prints as a space.
 */
function wrap(text: string, width: number, indent: string, hanging = indent): string[] {
  const lines: string[] = []
  for (const paragraph of text.split('\n')) {
    let line = indent
    let lineLen = indent.length
    let empty = true
    // Runs of spaces are kept inside a line (they align labels) and dropped at a break.
    const tokens = paragraph.split(/( +)/)
    for (let i = 0; i < tokens.length; i += 2) {
      const word = tokens[i]!
      const gap = i > 0 ? tokens[i - 1]! : ''
      if (word === '') continue
      const wlen = visibleLength(word)
      if (!empty && lineLen + gap.length + wlen > width) {
        lines.push(line)
        line = hanging
        lineLen = hanging.length
        empty = true
      }
      const w = empty && lineLen + wlen > width && !word.includes('\u001b') ? cut(word, width - lineLen) : word
      line += (empty ? '' : gap) + w
      lineLen += (empty ? 0 : gap.length) + visibleLength(w)
      empty = false
    }
    lines.push(line)
    indent = hanging
  }
  return lines.map((l) => l.replace(/\u00a0/g, ' '))
}
