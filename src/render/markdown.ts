/**
 * Markdown for pull requests and incident tickets, in Atlantis's manner: the summary line first,
 * diffs in ```diff fences with the marker in column 0 (`~` written `!` so the highlighter colours
 * it), anything over 12 lines folded in <details>, tables for primaries, steps and findings.
 *
 * Pure. The result is split into chunks of at most 65,536 characters (GitHub's comment limit);
 * every chunk is valid markdown on its own: a fence or a fold split across chunks is closed at
 * the end of one and reopened at the start of the next.
 */
import {planHasChanges} from '../plan/build.js'
import {countOf, groupDigits} from '../plan/numbers.js'
import type {Candidate, FactColumn, Plan, RiskClass} from '../plan/types.js'
import {
  ACTION_PHRASE,
  changeDiff,
  changeNoun,
  changeShape,
  clusterFacts,
  collapseRuns,
  digitTemplate,
  lastDigitTemplate,
  parentAddresses,
  factText,
  findingShape,
  isNumericFact,
  leadershipOf,
  nodeOrNone,
  observedPairs,
  presentColumns,
  primaryShape,
  stepShape,
} from './common.js'
import {planSummaryLine} from './summary.js'
import {escapeControlsDeep} from './escape.js'

/** GitHub's limit on a comment, and so on a chunk. */
export const MARKDOWN_CHUNK_LIMIT = 65_536
/** Fences longer than this are folded (Atlantis's maxUnwrappedLines). */
export const MAX_UNFOLDED_LINES = 12

/** A piece of the document that is kept whole when it fits in a chunk. */
type Block =
  | {kind: 'text'; text: string}
  | {kind: 'table'; header: string[]; rows: string[]}
  | {kind: 'fence'; title?: string; summary?: string; lines: string[]}

/** The plan as markdown chunks of at most `limit` characters (default 65,536), each ending with a newline. */
export function renderPlanMarkdown(input: Plan, limit = MARKDOWN_CHUNK_LIMIT, opts: {full?: boolean} = {}): string[] {
  // Free text from the spec and the cluster cannot drive a terminal the markdown is shown in (render/escape.ts).
  const plan = escapeControlsDeep(input)
  const title = `lifeboat plan: ${plan.spec.kind} ${code(plan.spec.name)}`
  return packChunks(planBlocks(plan, title, opts.full ?? false), title, limit)
}

/**
 * A table block without the columns that are empty in every row (the first column always stays):
 * `header` and `align` are cells, `rows` rows of cells.
 */
function table(header: string[], align: string[], rows: string[][]): Extract<Block, {kind: 'table'}> {
  const keep = header.map((_, i) => i === 0 || rows.some((r) => (r[i] ?? '') !== ''))
  const pick = (cells: string[]) => cells.filter((_, i) => keep[i])
  return {kind: 'table', header: [row(pick(header)), row(pick(align))], rows: rows.map((r) => row(pick(r)))}
}

function planBlocks(plan: Plan, title: string, full: boolean): Block[] {
  const blocks: Block[] = [{kind: 'text', text: `## ${title}\n\n**${escapeText(planSummaryLine(plan))}**`}]
  const errors = plan.findings.filter((f) => f.severity === 'error').length
  const facts = clusterFacts(plan)
    .map(([label, value]) => ` · ${escapeText(label)} ${value.split(' ').map(code).join(' ')}`)
    .join('')
  blocks.push({
    kind: 'table',
    header: ['| Field | Value |', '|---|---|'],
    rows: [
      ...(plan.spec.ticket ? [row(['Ticket', escapeText(plan.spec.ticket)])] : []),
      row([
        'Spec',
        `${code(plan.spec.name)} (${escapeText(plan.spec.kind)})${plan.spec.path ? ` from ${code(plan.spec.path)}` : ''}, sha256 ${code(plan.spec.sha256.slice(0, 12))}`,
      ]),
      row(['Cluster', `${escapeText(plan.cluster.name)}${facts}`]),
      row([
        'Observed',
        `${escapeText(observedPairs(plan.observed.summary).join(', '))} · fingerprint ${code(plan.observed.fingerprint.slice(0, 12))}`,
      ]),
      row([
        'Plan',
        `digest ${code(plan.digest)}, made ${escapeText(plan.createdAt)} by lifeboat ${escapeText(plan.tool.version)}`,
      ]),
      row(['Applicable', plan.applyable ? 'yes' : `**no**: ${countOf(errors, 'error')} must be resolved first`]),
    ],
  })

  if (!planHasChanges(plan)) {
    findingBlocks(plan, blocks, full)
    return blocks
  }

  const changes = plan.changes.filter((c) => c.action !== 'no-op')
  if (changes.length > 0) {
    blocks.push({kind: 'text', text: `### Changes (${groupDigits(changes.length)})`})
    const parents = parentAddresses(changes)
    const collapsed = collapseRuns(changes, (c) => changeShape(c, parents), full)
    const width = Math.min(72, Math.max(...changes.slice(0, 1000).map((c) => c.address.length)))
    const overview = collapsed.map((e) => {
      if ('more' in e) {
        const {one, many} = changeNoun(e.like, plan.vocabulary)
        return `  ... and ${groupDigits(e.more)} more ${e.more === 1 ? one : many} like these (${lastDigitTemplate(e.like.address)}; --full shows them)`
      }
      const marker = e.item.action === 'create' ? '+' : e.item.action === 'delete' ? '-' : '!'
      return `${marker} ${e.item.address.padEnd(width)}  ${ACTION_PHRASE[e.item.action].replace('will be ', '')}`
    })
    blocks.push({kind: 'fence', summary: `All ${countOf(changes.length, 'change')}`, lines: overview})
    for (const e of collapsed) {
      if ('more' in e) continue
      const c = e.item
      const lines = changeDiff(c).map((l) => (l.marker === '@' ? `@@ ${l.text} @@` : `${l.marker} ${l.text}`))
      const head = `${code(c.address)} ${ACTION_PHRASE[c.action]}${c.reason ? ` (${escapeText(c.reason)})` : ''}`
      blocks.push({kind: 'fence', title: head, summary: head, lines})
    }
  }

  if (plan.primaries.length > 0) {
    const words = leadershipOf(plan)
    blocks.push({kind: 'text', text: `### ${escapeText(words.heading)} (${groupDigits(plan.primaries.length)})`})
    const collapsed = collapseRuns(plan.primaries, primaryShape, full)
    const changeFacts = (words.changeFacts ?? []).filter((col) =>
      plan.primaries.some((p) => p.facts?.[col.name] !== undefined),
    )
    blocks.push(
      table(
        [
          capitalise(words.item.one),
          'Table',
          'Before → after',
          'Risk',
          'Why',
          'At stake',
          ...changeFacts.map((c) => escapeText(capitalise(c.label))),
        ],
        ['---', '---', '---', '---', '---', '---', ...changeFacts.map(() => '---')],
        collapsed.map((e) =>
          'more' in e
            ? [
                `… and ${groupDigits(e.more)} more like ${code(lastDigitTemplate(e.like.partition))}`,
                escapeText(e.like.table ?? ''),
                '',
                riskCell(e.like.risk),
                escapeText(digitTemplate(e.like.reason)),
                '',
                ...changeFacts.map(() => ''),
              ]
            : [
                code(e.item.partition),
                escapeText(e.item.table ?? ''),
                `${escapeText(nodeOrNone(e.item.before))} → **${escapeText(nodeOrNone(e.item.after))}**`,
                riskCell(e.item.risk),
                escapeText(e.item.reason),
                escapeText(e.item.atStake ?? ''),
                ...changeFacts.map((c) => escapeText(factText(e.item.facts?.[c.name]))),
              ],
        ),
      ),
    )
    for (const e of collapsed) {
      if ('more' in e || e.item.candidates.length === 0) continue
      blocks.push({
        kind: 'text',
        text: `<details><summary>Candidates for ${escapeText(e.item.partition)}</summary>\n\n${candidateTable(e.item.candidates, e.item.after, words.candidateFacts)}\n\n</details>`,
      })
    }
  }

  if (plan.steps.length > 0) {
    blocks.push({kind: 'text', text: `### Steps (apply runs them in this order)`})
    const collapsed = collapseRuns(plan.steps, stepShape, full)
    blocks.push(
      table(
        ['#', 'Step', 'Risk', 'What', 'Why / what may be lost'],
        ['---:', '---', '---', '---', '---'],
        collapsed.map((e) =>
          'more' in e
            ? [
                '',
                `… and ${countOf(e.more, 'more step', 'more steps')} like these`,
                riskCell(e.like.risk),
                escapeText(e.like.kind),
                '',
              ]
            : [
                String(e.index + 1),
                code(e.item.id),
                `${riskCell(e.item.risk)}${e.item.manual ? ' (manual)' : ''}`,
                escapeText(e.item.description),
                escapeText(e.item.riskReason ?? ''),
              ],
        ),
      ),
    )
    for (const s of plan.steps) {
      if (!s.manual) continue
      blocks.push({
        kind: 'text',
        text: `**Manual step ${code(s.id)}**: apply shows these instructions and waits for a confirmation.\n\n${s.manual.instructions.map((l, i) => `${i + 1}. ${escapeText(l)}`).join('\n')}`,
      })
    }
  }

  findingBlocks(plan, blocks, full)

  if (plan.approvals.length > 0) {
    blocks.push({
      kind: 'text',
      text: `### Approvals\n\n${plan.approvals.map((a) => `- ${escapeText(a.name)} at ${escapeText(a.at)}${a.comment ? `: ${escapeText(a.comment)}` : ''}`).join('\n')}`,
    })
  }
  blocks.push({
    kind: 'text',
    text: `> Approve with ${code('lifeboat approve PLAN --as NAME')}; ${code('lifeboat apply PLAN')} re-plans first and refuses a plan that no longer matches the cluster.`,
  })
  return blocks
}

function findingBlocks(plan: Plan, blocks: Block[], full: boolean): void {
  if (plan.findings.length === 0) return
  blocks.push({kind: 'text', text: `### Findings (${groupDigits(plan.findings.length)})`})
  blocks.push(
    table(
      ['Severity', 'Code', 'Subject', 'Message'],
      ['---', '---', '---', '---'],
      collapseRuns(plan.findings, findingShape, full).map((e) =>
        'more' in e
          ? [e.like.severity, code(e.like.code), '', `… and ${groupDigits(e.more)} more like these`]
          : [
              e.item.severity === 'error' ? '**error**' : e.item.severity,
              code(e.item.code),
              escapeText(e.item.subject ?? ''),
              `${escapeText(e.item.message)}${e.item.hint ? `<br>_hint: ${escapeText(e.item.hint)}_` : ''}`,
            ],
      ),
    ),
  )
}

/** The candidates: the node, the engine's declared columns some candidate has a value for, and marks. */
function candidateTable(candidates: Candidate[], chosen: string | null, declared: readonly FactColumn[]): string {
  const columns = presentColumns(declared, candidates)
  const numeric = columns.map((col) =>
    candidates.every((c) => c.facts[col.name] === undefined || isNumericFact(c.facts[col.name])),
  )
  const t = table(
    ['Chosen', 'Node', ...columns.map((c) => escapeText(capitalise(c.label))), 'Marks'],
    ['---', '---', ...numeric.map((n) => (n ? '---:' : '---')), '---'],
    candidates.map((c) => [
      c.node === chosen ? '**→**' : '',
      code(c.node),
      ...columns.map((col) => escapeText(factText(c.facts[col.name]))),
      escapeText((c.marks ?? []).join(', ')),
    ]),
  )
  return [...t.header, ...t.rows].join('\n')
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function riskCell(risk: RiskClass): string {
  return risk === 'lossy' ? '**lossy**' : risk
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** Text safe in a table cell or a paragraph: no raw HTML, no cell breaks, no line breaks. */
function escapeText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, '<br>')
}

/** An inline code span that survives backticks and pipes in the text. */
function code(text: string): string {
  const ticks = '`'.repeat(Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length)) + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${ticks}${pad}${text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}${pad}${ticks}`
}

/** The fence for some lines: three backticks, or more than the longest run inside. */
function fenceFor(lines: string[]): string {
  let longest = 0
  for (const l of lines) for (const m of l.matchAll(/`{3,}/g)) longest = Math.max(longest, m[0].length)
  return '`'.repeat(Math.max(3, longest + 1))
}

function renderFence(title: string | undefined, summary: string | undefined, lines: string[], folded: boolean): string {
  const fence = fenceFor(lines)
  const body = `${fence}diff\n${lines.join('\n')}\n${fence}`
  if (folded)
    return `<details><summary>${summaryHtml(summary ?? title ?? 'Diff')} (${groupDigits(lines.length)} lines)</summary>\n\n${body}\n\n</details>`
  return title ? `${title}\n\n${body}` : body
}

/** Markdown inside <summary> is not rendered: inline code becomes <code>. */
function summaryHtml(text: string): string {
  return text.replace(/`+ ?(.*?) ?`+/g, (_m, inner: string) => `<code>${inner.replace(/\\\|/g, '|')}</code>`)
}

function renderBlock(b: Block): string {
  switch (b.kind) {
    case 'text':
      return b.text
    case 'table':
      return [...b.header, ...b.rows].join('\n')
    case 'fence':
      return renderFence(b.title, b.summary, b.lines, b.lines.length > MAX_UNFOLDED_LINES)
  }
}

/** Room kept in every chunk for the `part i of n` line. */
const PART_HEADER_ROOM = 400

/**
 * Packs blocks into chunks of at most `limit` characters. A block that does not fit in an empty
 * chunk is split: a table repeats its header, a fence is closed and reopened (folded again), text
 * breaks at lines. A single line longer than a chunk is cut with a marker.
 */
function packChunks(blocks: Block[], title: string, limit: number): string[] {
  const budget = limit - PART_HEADER_ROOM
  if (budget < 1000) throw new RangeError(`markdown chunk limit ${limit} is too small`)
  const chunks: string[][] = [[]]
  let size = 0
  const place = (text: string) => {
    const cost = text.length + 2
    if (size > 0 && size + cost > budget) {
      chunks.push([])
      size = 0
    }
    chunks.at(-1)!.push(text)
    size += cost
  }
  for (const b of blocks) {
    const whole = renderBlock(b)
    if (whole.length + 2 <= budget) {
      place(whole)
      continue
    }
    for (const piece of splitBlock(b, budget)) place(piece)
  }
  const n = chunks.length
  return chunks.map((parts, i) => {
    const head = n > 1 && i > 0 ? `_${title}, part ${i + 1} of ${n} (continued)_\n\n` : ''
    const tail = n > 1 && i < n - 1 ? `\n\n_Continued in part ${i + 2} of ${n}._` : ''
    return `${head}${parts.join('\n\n')}${tail}\n`
  })
}

function splitBlock(b: Block, budget: number): string[] {
  const maxLine = budget - 600
  const clip = (line: string) =>
    line.length > maxLine
      ? `${line.slice(0, maxLine)} … (line cut: ${groupDigits(line.length - maxLine)} more characters)`
      : line
  const groups = (lines: string[], overhead: number): string[][] => {
    const out: string[][] = [[]]
    let size = overhead
    for (const raw of lines) {
      const line = clip(raw)
      if (out.at(-1)!.length > 0 && size + line.length + 1 > budget) {
        out.push([])
        size = overhead
      }
      out.at(-1)!.push(line)
      size += line.length + 1
    }
    return out
  }
  switch (b.kind) {
    case 'text':
      return groups(b.text.split('\n'), 0).map((g) => g.join('\n'))
    case 'table': {
      const header = b.header.join('\n')
      return groups(b.rows, header.length + 1).map((g) => `${header}\n${g.join('\n')}`)
    }
    case 'fence': {
      const overhead = 300 + (b.summary ?? b.title ?? '').length
      const parts = groups(b.lines, overhead)
      return parts.map((g, i) =>
        renderFence(undefined, `${b.summary ?? b.title ?? 'Diff'}, part ${i + 1} of ${parts.length}`, g, true),
      )
    }
  }
}
