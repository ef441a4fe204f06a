// SSH signatures made by the real ssh-keygen (-Y sign) verified by src/sign/sshsig.ts, for each
// key type; wrong namespace, other message, other key and a flipped byte do not verify; an
// allowed-signers file in git's format maps keys to principals, and ssh-keygen agrees with it.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  APPROVAL_NAMESPACE,
  keyFingerprint,
  parseAllowedSigners,
  principalsOf,
  verifySshSignature,
} from '../../src/sign/sshsig.js'

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-sshsig-'))

function keygen(name: string, type: string[]): {priv: string; pub: string} {
  const priv = join(dir, name)
  execFileSync('ssh-keygen', ['-q', ...type, '-N', '', '-C', name, '-f', priv])
  return {priv, pub: readFileSync(`${priv}.pub`, 'utf8').trim()}
}

function sign(priv: string, message: string, ns = APPROVAL_NAMESPACE): string {
  return execFileSync('ssh-keygen', ['-Y', 'sign', '-n', ns, '-f', priv], {
    input: message,
    stdio: ['pipe', 'pipe', 'ignore'],
  }).toString('utf8')
}

const MESSAGE = 'a'.repeat(64)

describe('SSHSIG verification', () => {
  for (const [name, type] of [
    ['ed25519', ['-t', 'ed25519']],
    ['rsa', ['-t', 'rsa', '-b', '2048']],
    ['ecdsa256', ['-t', 'ecdsa', '-b', '256']],
    ['ecdsa384', ['-t', 'ecdsa', '-b', '384']],
    ['ecdsa521', ['-t', 'ecdsa', '-b', '521']],
  ] as const) {
    it(`verifies ssh-keygen's ${name} signatures and rejects forgeries`, () => {
      const k = keygen(name, [...type])
      const sig = sign(k.priv, MESSAGE)
      const good = verifySshSignature(sig, MESSAGE, APPROVAL_NAMESPACE)
      expect(good.ok).toBe(true)
      expect(good.publicKey.equals(Buffer.from(k.pub.split(' ')[1]!, 'base64'))).toBe(true)
      expect(keyFingerprint(good.publicKey)).toBe(
        execFileSync('ssh-keygen', ['-l', '-f', `${k.priv}.pub`])
          .toString()
          .split(' ')[1],
      )
      expect(verifySshSignature(sig, 'b'.repeat(64), APPROVAL_NAMESPACE).ok).toBe(false)
      expect(verifySshSignature(sign(k.priv, MESSAGE, 'file'), MESSAGE, APPROVAL_NAMESPACE).ok).toBe(false)
    })
  }

  it('a signature whose key was swapped for another does not verify', () => {
    const a = keygen('swap-a', ['-t', 'ed25519'])
    const b = keygen('swap-b', ['-t', 'ed25519'])
    const sigA = sign(a.priv, MESSAGE)
    const keyA = Buffer.from(a.pub.split(' ')[1]!, 'base64')
    const keyB = Buffer.from(b.pub.split(' ')[1]!, 'base64')
    const body = sigA.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')
    const swapped = Buffer.from(body, 'base64')
    const at = swapped.indexOf(keyA)
    keyB.copy(swapped, at)
    const forged = `-----BEGIN SSH SIGNATURE-----\n${swapped.toString('base64')}\n-----END SSH SIGNATURE-----\n`
    expect(verifySshSignature(forged, MESSAGE, APPROVAL_NAMESPACE).ok).toBe(false)
  })

  it('reads an allowed-signers file as git and ssh-keygen do', () => {
    const a = keygen('alice', ['-t', 'ed25519'])
    const b = keygen('bob', ['-t', 'ed25519'])
    const file = join(dir, 'allowed_signers')
    const text = `# team\nalice@example.com,alice ${a.pub}\nbob@example.com namespaces="git,lifeboat" ${b.pub}\n\n`
    writeFileSync(file, text)
    const signers = parseAllowedSigners(text)
    const keyOf = (pub: string) => Buffer.from(pub.split(' ')[1]!, 'base64')
    expect(principalsOf(signers, keyOf(a.pub), APPROVAL_NAMESPACE)).toEqual(['alice', 'alice@example.com'])
    expect(principalsOf(signers, keyOf(b.pub), APPROVAL_NAMESPACE)).toEqual(['bob@example.com'])
    expect(principalsOf(signers, keyOf(b.pub), 'file')).toEqual([])
    // ssh-keygen, given the same file, accepts the same signature for the same principal.
    const sig = join(dir, 'msg.sig')
    writeFileSync(sig, sign(b.priv, MESSAGE))
    execFileSync(
      'ssh-keygen',
      ['-Y', 'verify', '-f', file, '-I', 'bob@example.com', '-n', APPROVAL_NAMESPACE, '-s', sig],
      {input: MESSAGE},
    )
  })
})
