/**
 * Secret redaction for everything lifeboat writes down or prints as data: the audit log, the plan
 * file (approval comments) and --json output. Pure.
 */

const SECRET_KEY = /password|secret|token|credential|passwd/i
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const REDACTED = '[redacted]'

/**
 * A copy of `value` with secrets replaced by `[redacted]`: the value of any key that looks like a
 * secret (password, secret, token, credential, passwd), unless the value merely names an
 * environment variable (`credentials_env: LIFEBOAT_ZK_AUTH`, `$VAR`, `env:VAR`); and, inside
 * strings, `token=...` / `--password xyz` style pairs, as they appear in argv.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, undefined) as T
}

function namesEnvironmentVariable(key: string, value: unknown): boolean {
  if (typeof value !== 'string') return false
  if (/^(\$\{?|env:)[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value)) return true
  return /env/i.test(key) && ENV_NAME.test(value)
}

function redact(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && !namesEnvironmentVariable(key, value)) {
    return value === null || value === undefined || value === '' ? value : REDACTED
  }
  if (typeof value === 'string') return redactInline(value)
  if (Array.isArray(value)) {
    const out: unknown[] = []
    for (let i = 0; i < value.length; i++) {
      const prev = value[i - 1]
      // `--password hunter2` in argv: the item after a secret-looking flag is the secret.
      if (
        typeof prev === 'string' &&
        /^--?[\w-]*$/.test(prev) &&
        SECRET_KEY.test(prev) &&
        !/env/i.test(prev) &&
        typeof value[i] === 'string'
      ) {
        out.push(REDACTED)
      } else {
        out.push(redact(value[i], undefined))
      }
    }
    return out
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k)
    return out
  }
  return value
}

export function redactInline(text: string): string {
  return (
    text
      .replace(
        /([\w-]*(?:password|secret|token|credential|passwd)[\w-]*)(\s*[=:]\s*)([^\s&,;]+)/gi,
        (whole, name: string, sep: string, v: string) =>
          /env/i.test(name) && ENV_NAME.test(v) ? whole : `${name}${sep}${REDACTED}`,
      )
      // `--password hunter2` written out in prose or a command line kept as one string.
      .replace(
        /(^|\s)(--?[\w-]*(?:password|secret|token|credential|passwd)[\w-]*)(\s+)(?!-|\[redacted\])(\S+)/gi,
        (whole, pre: string, flag: string, sp: string, v: string) =>
          /env/i.test(flag) && ENV_NAME.test(v) ? whole : `${pre}${flag}${sp}${REDACTED}`,
      )
  )
}

/**
 * A copy of `value` with `token=...` / `--password xyz` pairs redacted inside every string; keys
 * are not judged (for --json output, whose field names are lifeboat's own).
 */
export function redactInlineDeep<T>(value: T): T {
  if (typeof value === 'string') return redactInline(value) as T
  if (Array.isArray(value)) return value.map((v) => redactInlineDeep(v)) as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactInlineDeep(v)
    return out as T
  }
  return value
}
