/**
 * SSH signatures in the format of `ssh-keygen -Y sign` (OpenSSH PROTOCOL.sshsig), the format git
 * uses for signed commits, verified with Node's crypto; and git's allowed-signers file.
 *
 * The armored blob holds: "SSHSIG", uint32 version 1, string public key, string namespace,
 * string reserved, string hash algorithm (sha256|sha512), string signature. What the key signed
 * is "SSHSIG", string namespace, string reserved, string hash algorithm, string H(message).
 * Keys: ssh-ed25519, ssh-rsa (rsa-sha2-256/512 signatures), ecdsa-sha2-nistp256/384/521.
 */
import {createHash, createPublicKey, verify, type KeyObject} from 'node:crypto'

/** The namespace lifeboat signs approvals in (`ssh-keygen -Y sign -n lifeboat`). */
export const APPROVAL_NAMESPACE = 'lifeboat'

/** Why a signature or a key could not be read: a plain message, turned into a LifeboatError by the caller. */
export class SshSigError extends Error {}

class Reader {
  private off = 0
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    if (this.off + 4 > this.buf.length) throw new SshSigError('truncated')
    const v = this.buf.readUInt32BE(this.off)
    this.off += 4
    return v
  }
  bytes(): Buffer {
    const n = this.u32()
    if (this.off + n > this.buf.length) throw new SshSigError('truncated')
    const b = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return b
  }
  string(): string {
    return this.bytes().toString('utf8')
  }
  raw(n: number): Buffer {
    if (this.off + n > this.buf.length) throw new SshSigError('truncated')
    const b = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return b
  }
  done(): boolean {
    return this.off === this.buf.length
  }
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b, 'utf8') : b
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  return Buffer.concat([len, data])
}

function b64url(b: Buffer): string {
  return b.toString('base64url')
}

/** An mpint without its sign byte. */
function unsigned(b: Buffer): Buffer {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  return b.subarray(i)
}

const CURVES: Record<string, {crv: string; size: number; hash: string}> = {
  nistp256: {crv: 'P-256', size: 32, hash: 'sha256'},
  nistp384: {crv: 'P-384', size: 48, hash: 'sha384'},
  nistp521: {crv: 'P-521', size: 66, hash: 'sha512'},
}

/** A public key in SSH wire format as a Node KeyObject, with its type. */
export function sshPublicKey(wire: Buffer): {type: string; key: KeyObject} {
  const r = new Reader(wire)
  const type = r.string()
  if (type === 'ssh-ed25519') {
    const x = r.bytes()
    if (x.length !== 32) throw new SshSigError('bad ed25519 key')
    return {type, key: createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: b64url(x)}, format: 'jwk'})}
  }
  if (type === 'ssh-rsa') {
    const e = unsigned(r.bytes())
    const n = unsigned(r.bytes())
    return {type, key: createPublicKey({key: {kty: 'RSA', e: b64url(e), n: b64url(n)}, format: 'jwk'})}
  }
  const ec = /^ecdsa-sha2-(nistp256|nistp384|nistp521)$/.exec(type)
  if (ec) {
    const curve = CURVES[ec[1]!]!
    r.string()
    const q = r.bytes()
    if (q[0] !== 4 || q.length !== 1 + 2 * curve.size) throw new SshSigError('bad ecdsa key')
    return {
      type,
      key: createPublicKey({
        key: {
          kty: 'EC',
          crv: curve.crv,
          x: b64url(q.subarray(1, 1 + curve.size)),
          y: b64url(q.subarray(1 + curve.size)),
        },
        format: 'jwk',
      }),
    }
  }
  throw new SshSigError(`key type ${type} is not supported (use ed25519, rsa or ecdsa)`)
}

/** The SHA256 fingerprint of a wire-format key, as ssh-keygen prints it: `SHA256:...`. */
export function keyFingerprint(wire: Buffer): string {
  return `SHA256:${createHash('sha256').update(wire).digest('base64').replace(/=+$/, '')}`
}

/** A parsed SSHSIG signature. */
export interface SshSignature {
  publicKey: Buffer
  namespace: string
  hashAlgorithm: string
  signatureType: string
  signature: Buffer
}

/** Parses an armored `-----BEGIN SSH SIGNATURE-----` blob. */
export function parseSshSignature(armored: string): SshSignature {
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored)
  if (!m) throw new SshSigError('not an SSH signature (no BEGIN SSH SIGNATURE block)')
  const blob = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')
  const r = new Reader(blob)
  if (r.raw(6).toString('latin1') !== 'SSHSIG') throw new SshSigError('not an SSH signature (bad magic)')
  const version = r.u32()
  if (version !== 1) throw new SshSigError(`SSH signature version ${version} is not supported`)
  const publicKey = r.bytes()
  const namespace = r.string()
  r.bytes()
  const hashAlgorithm = r.string()
  const sig = new Reader(r.bytes())
  if (!r.done()) throw new SshSigError('trailing bytes after the signature')
  const signatureType = sig.string()
  const signature = sig.bytes()
  return {publicKey, namespace, hashAlgorithm, signatureType, signature}
}

/**
 * Whether `armored` is a valid signature of `message` in `namespace`. Returns the signer's
 * wire-format key when it is; throws SshSigError when the signature cannot be read; false when it
 * does not verify.
 */
export function verifySshSignature(
  armored: string,
  message: Buffer | string,
  namespace: string,
): {ok: boolean; publicKey: Buffer; reason?: string} {
  const sig = parseSshSignature(armored)
  if (sig.namespace !== namespace)
    return {ok: false, publicKey: sig.publicKey, reason: `signed in namespace "${sig.namespace}", not "${namespace}"`}
  if (sig.hashAlgorithm !== 'sha512' && sig.hashAlgorithm !== 'sha256')
    return {ok: false, publicKey: sig.publicKey, reason: `hash algorithm ${sig.hashAlgorithm} is not supported`}
  const {type, key} = sshPublicKey(sig.publicKey)
  const digest = createHash(sig.hashAlgorithm).update(message).digest()
  const signed = Buffer.concat([
    Buffer.from('SSHSIG', 'latin1'),
    sshString(namespace),
    sshString(''),
    sshString(sig.hashAlgorithm),
    sshString(digest),
  ])
  let ok = false
  if (type === 'ssh-ed25519') {
    ok = sig.signatureType === 'ssh-ed25519' && verify(null, signed, key, sig.signature)
  } else if (type === 'ssh-rsa') {
    const alg =
      sig.signatureType === 'rsa-sha2-512' ? 'sha512' : sig.signatureType === 'rsa-sha2-256' ? 'sha256' : undefined
    ok = alg !== undefined && verify(alg, signed, key, sig.signature)
  } else {
    const curve = CURVES[type.replace('ecdsa-sha2-', '')]!
    if (sig.signatureType === type) {
      const rs = new Reader(sig.signature)
      const pad = (b: Buffer) =>
        Buffer.concat([Buffer.alloc(Math.max(0, curve.size - b.length)), b]).subarray(-curve.size)
      const r = pad(unsigned(rs.bytes()))
      const s = pad(unsigned(rs.bytes()))
      ok = verify(curve.hash, signed, {key, dsaEncoding: 'ieee-p1363'}, Buffer.concat([r, s]))
    }
  }
  return ok ? {ok, publicKey: sig.publicKey} : {ok, publicKey: sig.publicKey, reason: 'the signature does not verify'}
}

/** One line of an allowed-signers file. */
export interface AllowedSigner {
  principals: string[]
  /** `namespaces="..."` option, when given. */
  namespaces?: string[]
  keyType: string
  key: Buffer
  line: number
}

/**
 * Parses git's allowed-signers format (ssh-keygen ALLOWED SIGNERS): `principals [options] keytype
 * base64key [comment]`, `#` comments and blank lines ignored. Options other than namespaces= and
 * cert-authority are ignored; cert-authority lines are skipped (certificates are not supported).
 */
export function parseAllowedSigners(text: string): AllowedSigner[] {
  const out: AllowedSigner[] = []
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const words = line.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []
    if (words.length < 3) throw new SshSigError(`line ${i + 1}: expected "principals [options] keytype key"`)
    const principals = words[0]!.replace(/^"|"$/g, '').split(',').filter(Boolean)
    let j = 1
    let namespaces: string[] | undefined
    let certAuthority = false
    if (!/^(ssh-|ecdsa-|sk-)/.test(words[1]!)) {
      for (const opt of words[1]!.match(/(?:[^,"]+|"[^"]*")+/g) ?? []) {
        const [name, value] = opt.split(/=(.*)/s)
        if (name!.toLowerCase() === 'namespaces' && value !== undefined)
          namespaces = value.replace(/^"|"$/g, '').split(',')
        if (name!.toLowerCase() === 'cert-authority') certAuthority = true
      }
      j = 2
    }
    const keyType = words[j]
    const b64 = words[j + 1]
    if (keyType === undefined || b64 === undefined) throw new SshSigError(`line ${i + 1}: no key`)
    if (certAuthority) continue
    const key = Buffer.from(b64, 'base64')
    if (new Reader(key).string() !== keyType)
      throw new SshSigError(`line ${i + 1}: the key does not match its type ${keyType}`)
    out.push({principals, ...(namespaces ? {namespaces} : {}), keyType, key, line: i + 1})
  }
  return out
}

/** The principals an allowed-signers list grants this key in this namespace. */
export function principalsOf(signers: readonly AllowedSigner[], key: Buffer, namespace: string): string[] {
  const out = new Set<string>()
  for (const s of signers) {
    if (!s.key.equals(key)) continue
    if (s.namespaces && !s.namespaces.some((n) => n === namespace || n === '*')) continue
    for (const p of s.principals) out.add(p)
  }
  return [...out].sort()
}
