/**
 * Who is running lifeboat: the `who` of a lock and the actor and host of an audit record.
 */
import {hostname, userInfo} from 'node:os'

/** The operator's identity on this machine. */
export interface Operator {
  /** The login name. */
  user: string
  host: string
  /** `user@host`, as Terraform's lock info writes it. */
  who: string
}

/** The current operator. `userInfo()` throws in containers without a passwd entry; USER is the fallback. */
export function currentOperator(env: Record<string, string | undefined> = process.env): Operator {
  let user: string
  try {
    user = userInfo().username
  } catch {
    user = env.USER ?? env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`
  }
  const host = hostname()
  return {user, host, who: `${user}@${host}`}
}
