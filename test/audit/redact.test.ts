// Secrets in flags and comments are redacted wherever lifeboat writes them down: the audit log,
// an approval comment in the plan file, and --json output.
import {copyFileSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {addApproval, readPlanFile} from '../../src/plan/file.js'
import {redactInline, redactInlineDeep, redactSecrets} from '../../src/util/redact.js'
import {REPO} from '../cli/helpers.js'

describe('redaction', () => {
  it('redacts key=value, key: value and --flag value pairs, and keeps environment variable names', () => {
    expect(redactInline('ran with password=hunter2 and token: abc123')).toBe(
      'ran with password=[redacted] and token: [redacted]',
    )
    expect(redactInline('used --password hunter2 --db-token xyz --verbose')).toBe(
      'used --password [redacted] --db-token [redacted] --verbose',
    )
    expect(redactInline('credentials_env: LIFEBOAT_ZK_AUTH')).toBe('credentials_env: LIFEBOAT_ZK_AUTH')
    expect(redactInline('--password-env LIFEBOAT_PW')).toBe('--password-env LIFEBOAT_PW')
    expect(redactInline('checked the lossy partitions with the DBA')).toBe('checked the lossy partitions with the DBA')
    expect(redactSecrets({argv: ['apply', '--password', 'hunter2'], zk_password: 'p'})).toEqual({
      argv: ['apply', '--password', '[redacted]'],
      zk_password: '[redacted]',
    })
    expect(redactInlineDeep({a: ['x token=t0k'], b: 1})).toEqual({a: ['x token=[redacted]'], b: 1})
  })

  it('an approval comment is redacted in the plan file', async () => {
    const dir = join(REPO, 'test', 'fixtures', 'PegasusMetaRecovery')
    const scenario = readdirSync(dir).find((d) => readdirSync(join(dir, d)).includes('plan.json'))!
    const path = join(mkdtempSync(join(tmpdir(), 'lifeboat-redact-')), 'plan.json')
    copyFileSync(join(dir, scenario, 'plan.json'), path)
    await readPlanFile(path)
    await addApproval(path, {
      name: 'alice',
      comment: 'ok; reran with --password hunter2 token=abc',
      at: '2026-01-01T00:00:00Z',
    })
    expect(readFileSync(path, 'utf8')).not.toContain('hunter2')
    expect(readFileSync(path, 'utf8')).not.toContain('abc"')
    expect((await readPlanFile(path)).approvals[0]!.comment).toBe(
      'ok; reran with --password [redacted] token=[redacted]',
    )
  })
})
