/**
 * PD's HTTP API as this engine uses it, over the shared HTTP client (deadlines, exact uint64s).
 *
 * Any PD member answers (followers forward to the leader), so a call goes to the endpoint that
 * answered last and moves on to the next one only when no reply came at all (refused,
 * unreachable, timed out); an HTTP error status is PD's answer and is not retried elsewhere.
 */
import {LifeboatError} from '../../errors.js'
import {HttpError, httpRequest, type HttpMethod, type HttpReply} from '../../http/client.js'
import {parseJson} from '../../http/json.js'

export const PD_API = '/pd/api/v1'
/** PD's cap on `/regions/key?limit=` (maxRegionLimit). */
export const REGION_PAGE = 10240

export interface PdClientOptions {
  /** Deadline of each call (default 10 s). */
  timeoutMs?: number
}

/** A uint64 from PD's JSON (number or, past 2^53, bigint) as a decimal string; `""` when absent. */
export function idText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'string') return v
  return ''
}

/** A number from PD's JSON; 0 when absent. */
export function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'number') return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return 0
}

/** An integer literal of 16 digits or more in value position (after `:`, `,` or `[`; before `,`, `]` or `}`). */
const BIG_INTEGER_VALUE = /([:,[]\s*)(-?\d{16,})(?=\s*[,\]}])/g

/**
 * PD's JSON with every integer of 16 digits or more as its decimal string, so uint64 ids stay
 * exact ({@link idText} and {@link num} read both forms). This is the fast path for 100,000-region
 * replies (native JSON.parse after one regex pass is several times faster than a lossless parser).
 * Should the pattern ever match inside a string, the quotes it adds break the JSON, never silently
 * change it: the lossless parser then reads the text instead.
 */
export function parsePdJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(BIG_INTEGER_VALUE, '$1"$2"'))
  } catch {
    return parseJson(text)
  }
}

/** PD's reply bodies are JSON strings (`"Request has been accepted."\n`); their text, unquoted. */
export function replyMessage(reply: HttpReply): string {
  const t = reply.text.trim()
  try {
    const v = JSON.parse(t) as unknown
    if (typeof v === 'string') return v
  } catch {
    // not JSON: the text as it came
  }
  return t
}

export class PdClient {
  private current = 0

  constructor(
    readonly endpoints: string[],
    private readonly opts: PdClientOptions = {},
  ) {}

  /** The endpoint that answered last. */
  get endpoint(): string {
    return this.endpoints[this.current]
  }

  /** One call, whatever the status; moves to the next endpoint only when none answered. */
  async request(method: HttpMethod, path: string, body?: unknown, signal?: AbortSignal): Promise<HttpReply> {
    let last: unknown
    for (let n = 0; n < this.endpoints.length; n++) {
      const i = (this.current + n) % this.endpoints.length
      try {
        const reply = await httpRequest({
          server: this.endpoints[i],
          method,
          path,
          body,
          timeoutMs: this.opts.timeoutMs,
          signal,
        })
        this.current = i
        return reply
      } catch (err) {
        if (!(err instanceof HttpError) || err.code === 'HTTP_ABORTED') throw err
        // A POST that timed out may have reached PD: never send it again elsewhere.
        if (method !== 'GET' && err.code === 'HTTP_TIMEOUT') throw err
        last = err
      }
    }
    throw new LifeboatError(
      'TIKV_PD_UNREACHABLE',
      `no PD endpoint answered ${method} ${path} (${this.endpoints.join(', ')})`,
      {
        detail: last instanceof Error ? last.message : undefined,
        hints: ['Check cluster.pd in the spec and that PD is running: `pd-ctl -u http://HOST:PORT health`.'],
        cause: last,
      },
    )
  }

  /** A GET whose reply must be 2xx JSON. */
  async getJson(path: string, signal?: AbortSignal): Promise<unknown> {
    const reply = await this.request('GET', path, undefined, signal)
    if (reply.status < 200 || reply.status > 299) {
      throw new LifeboatError(
        'TIKV_PD_ERROR',
        `PD ${this.endpoint} answered GET ${path} with HTTP ${reply.status}: ${replyMessage(reply).slice(0, 300)}`,
        {
          hints: [
            "Check that cluster.pd names PD client endpoints (not TiKV or TiDB) and look at the PD leader's log.",
          ],
        },
      )
    }
    try {
      return parsePdJson(reply.text)
    } catch (err) {
      throw new LifeboatError('TIKV_PD_ERROR', `PD ${this.endpoint} sent invalid JSON for GET ${path}`, {
        detail: `${err instanceof Error ? err.message : String(err)}; the reply began: ${JSON.stringify(reply.text.slice(0, 200))}`,
        hints: ['Check that cluster.pd names PD client endpoints (not TiKV or TiDB).'],
      })
    }
  }
}
