/**
 * start_recovery as both recovery steps call it (PegasusMetaRecovery's and the ZooKeeper
 * migration's recovery method): the shell's `recover` waits up to wait_seconds for the answer, and
 * a missing answer is not a failure of the recovery itself but of the wait.
 */
import {LifeboatError} from '../../../errors.js'
import type {ConfigurationRecoveryRequest, ConfigurationRecoveryResponse} from '../wire/index.js'
import {PegasusClientError} from './errors.js'
import type {MetaClient} from './meta-client.js'

/**
 * Sends start_recovery and waits up to `waitSeconds` for the answer, whatever its err. No answer in
 * time is PEGASUS_RECOVERY_TIMEOUT ("Wait recovery failed", as the shell says) with `resumeHint`.
 */
export async function startRecoveryAndWait(
  meta: Pick<MetaClient, 'startRecovery'>,
  req: ConfigurationRecoveryRequest,
  waitSeconds: number,
  resumeHint: string,
): Promise<ConfigurationRecoveryResponse> {
  try {
    return await meta.startRecovery(req, {timeoutMs: waitSeconds * 1000})
  } catch (err) {
    if (err instanceof PegasusClientError && err.code === 'PEGASUS_TIMEOUT') {
      throw new LifeboatError(
        'PEGASUS_RECOVERY_TIMEOUT',
        'Wait recovery failed, administrator should check the meta for progress',
        {
          detail: `start_recovery did not answer within ${waitSeconds} s.`,
          hints: [resumeHint],
        },
      )
    }
    throw err
  }
}

/** PEGASUS_RECOVERY_FAILED: start_recovery answered `err` (not ERR_OK), as the shell's "Recover result". */
export function recoveryFailed(err: string, detail: string | undefined, hints: string[]): LifeboatError {
  return new LifeboatError('PEGASUS_RECOVERY_FAILED', `Recover result: ${err}`, {detail: detail || undefined, hints})
}
