/**
 * PD's schedule config (`pkg/schedule/config.ScheduleConfig`) as `GET/POST /pd/api/v1/config/schedule`
 * shows and patches it: fields in the struct's order, booleans as JSON strings (`json:",string"`),
 * durations as Go strings. A POST merges a partial object the way Go's json.Unmarshal does onto the
 * current config: unknown keys ignored, wrong types refused with Go's message.
 */
import {type JsonValue, parseGoDuration} from './json.js'

type Kind = 'uint' | 'float' | 'bool' | 'duration' | 'string'

const FIELDS: [string, Kind, JsonValue][] = [
  ['max-snapshot-count', 'uint', 64],
  ['max-pending-peer-count', 'uint', 64],
  ['max-merge-region-size', 'uint', 54],
  ['max-merge-region-keys', 'uint', 540000],
  ['split-merge-interval', 'duration', '1h0m0s'],
  ['swtich-witness-interval', 'duration', '1h0m0s'],
  ['enable-one-way-merge', 'bool', 'false'],
  ['enable-cross-table-merge', 'bool', 'true'],
  ['patrol-region-interval', 'duration', '10ms'],
  ['max-store-down-time', 'duration', '30m0s'],
  ['max-store-preparing-time', 'duration', '48h0m0s'],
  ['leader-schedule-limit', 'uint', 4],
  ['leader-schedule-policy', 'string', 'count'],
  ['region-schedule-limit', 'uint', 2048],
  ['witness-schedule-limit', 'uint', 4],
  ['replica-schedule-limit', 'uint', 64],
  ['merge-schedule-limit', 'uint', 8],
  ['hot-region-schedule-limit', 'uint', 4],
  ['hot-region-cache-hits-threshold', 'uint', 3],
  ['tolerant-size-ratio', 'float', 0],
  ['low-space-ratio', 'float', 0.8],
  ['high-space-ratio', 'float', 0.7],
  ['region-score-formula-version', 'string', 'v2'],
  ['scheduler-max-waiting-operator', 'uint', 5],
  ['enable-remove-down-replica', 'bool', 'true'],
  ['enable-replace-offline-replica', 'bool', 'true'],
  ['enable-make-up-replica', 'bool', 'true'],
  ['enable-remove-extra-replica', 'bool', 'true'],
  ['enable-location-replacement', 'bool', 'true'],
  ['enable-debug-metrics', 'bool', 'false'],
  ['enable-joint-consensus', 'bool', 'true'],
  ['enable-tikv-split-region', 'bool', 'true'],
  ['hot-regions-write-interval', 'duration', '10m0s'],
  ['hot-regions-reserved-days', 'uint', 7],
  ['enable-diagnostic', 'bool', 'true'],
  ['enable-witness', 'bool', 'false'],
  ['slow-store-evicting-affected-store-ratio-threshold', 'float', 0.3],
  ['store-limit-version', 'string', 'v1'],
  ['halt-scheduling', 'bool', 'false'],
]

const GO_TYPES: Record<Kind, string> = {
  uint: 'uint64',
  float: 'float64',
  bool: 'bool',
  duration: 'typeutil.Duration',
  string: 'string',
}

/** A PD config error, returned as 400 with the message as a JSON string. */
export class ConfigError extends Error {}

export class ScheduleConfig {
  private readonly values = new Map<string, JsonValue>(FIELDS.map(([k, , v]) => [k, v]))

  constructor(overrides: Record<string, JsonValue> = {}) {
    for (const [k, v] of Object.entries(overrides)) if (this.values.has(k)) this.values.set(k, v)
  }

  get(key: string): JsonValue {
    return this.values.get(key)
  }

  bool(key: string): boolean {
    return this.values.get(key) === 'true'
  }

  durationMs(key: string): number {
    return parseGoDuration(String(this.values.get(key))) ?? 0
  }

  /** The GET body; `halt-scheduling` is omitted while false (`omitempty`). */
  toJson(): Record<string, JsonValue> {
    const out: Record<string, JsonValue> = {}
    for (const [k] of FIELDS) {
      const v = this.values.get(k)
      if (k === 'halt-scheduling' && v !== 'true') continue
      out[k] = v
    }
    return out
  }

  /** Validates the whole patch first, then applies it (like unmarshalling into a copy). */
  patch(body: unknown): void {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ConfigError(
        `json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type config.ScheduleConfig`,
      )
    }
    const next = new Map(this.values)
    for (const [k, raw] of Object.entries(body as Record<string, unknown>)) {
      const field = FIELDS.find((f) => f[0] === k)
      if (!field) continue
      const kind = field[1]
      const where = `Go struct field ScheduleConfig.${k} of type ${GO_TYPES[kind]}`
      const v = typeof raw === 'bigint' ? Number(raw) : raw
      switch (kind) {
        case 'bool':
          if (typeof v !== 'string')
            throw new ConfigError(
              `json: invalid use of ,string struct tag, trying to unmarshal unquoted value into bool`,
            )
          if (v !== 'true' && v !== 'false')
            throw new ConfigError(
              `json: invalid use of ,string struct tag, trying to unmarshal ${JSON.stringify(v)} into bool`,
            )
          next.set(k, v)
          break
        case 'uint':
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
            throw new ConfigError(
              `json: cannot unmarshal ${typeof v === 'number' ? `number ${v}` : jsonKind(v)} into ${where}`,
            )
          next.set(k, v)
          break
        case 'float':
          if (typeof v !== 'number') throw new ConfigError(`json: cannot unmarshal ${jsonKind(v)} into ${where}`)
          next.set(k, v)
          break
        case 'duration':
          if (typeof v !== 'string' || parseGoDuration(v) === undefined)
            throw new ConfigError(
              typeof v === 'string'
                ? `time: invalid duration ${JSON.stringify(v)}`
                : `json: cannot unmarshal ${jsonKind(v)} into ${where}`,
            )
          next.set(k, v)
          break
        case 'string':
          if (typeof v !== 'string') throw new ConfigError(`json: cannot unmarshal ${jsonKind(v)} into ${where}`)
          next.set(k, v)
          break
      }
    }
    for (const [k, v] of next) this.values.set(k, v)
  }
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'object') return 'object'
  if (typeof v === 'boolean') return 'bool'
  return typeof v
}
