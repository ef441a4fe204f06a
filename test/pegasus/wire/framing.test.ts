import net from 'node:net'
import thrift from 'thrift'
import type {TProtocol, TTransport} from 'thrift'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {
  encodeReply,
  encodeRequestV0,
  encodeRequestV1,
  openCall,
  openReply,
  readArgs,
  readResult,
  ReplyFrameDecoder,
  RequestFrameDecoder,
  RPCS,
  startRpcServer,
  WireError,
  type MetaFunctionLevel,
  type QueryCfgRequest,
  type RpcCallInfo,
  type RpcServer,
} from '../../../src/engines/pegasus/wire/index.js'

const CONTROL = RPCS.RPC_CM_CONTROL_META

// Body of RPC_CM_CONTROL_META(level 400), seqid 1, by hand: strict MessageBegin, args{1: request}, STOP.
const CONTROL_BODY =
  '80010001' +
  '00000013' +
  Buffer.from('RPC_CM_CONTROL_META').toString('hex') +
  '00000001' +
  '0c0001' +
  '08000100000190' +
  '00' +
  '00'

describe('request framing', () => {
  test('v1: 16-byte header, request meta, body', () => {
    const frame = encodeRequestV1('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 400})
    expect(frame.toString('hex')).toBe('54484654' + '00000001' + '00000001' + '0000002b' + '00' + CONTROL_BODY)
    const [r] = new RequestFrameDecoder().push(frame)
    expect(r.version).toBe(1)
    const call = openCall(r.body)
    expect([call.name, call.seqid]).toEqual(['RPC_CM_CONTROL_META', 1])
    expect(readArgs(call.reader, CONTROL.request)).toEqual({level: 400})
  })

  test('v1 meta fields reach the decoder; thread_hash is derived from the gpid', () => {
    const frame = encodeRequestV1(
      'RPC_CM_CONTROL_META',
      9,
      CONTROL.request,
      {level: 500},
      {app_id: 3, partition_index: 4, client_timeout: 700, client_partition_hash: 42n},
    )
    const [r] = new RequestFrameDecoder().push(frame)
    expect(r).toMatchObject({
      version: 1,
      app_id: 3,
      partition_index: 4,
      client_timeout: 700,
      thread_hash: 3 * 7919 + 4,
      partition_hash: 42n,
    })
  })

  test('v0: 48-byte header with crc32s of 0', () => {
    const frame = encodeRequestV0(
      'RPC_CM_CONTROL_META',
      1,
      CONTROL.request,
      {level: 400},
      {app_id: -1, partition_index: -1, client_timeout: 1000},
    )
    expect(frame.subarray(0, 48).toString('hex')).toBe(
      '54484654' +
        '00000000' +
        '00000030' +
        '00000000' +
        '0000002b' +
        '00000000' +
        'ffffffff' +
        'ffffffff' +
        '000003e8' +
        'ffffe110' +
        '0000000000000000',
    )
    expect(frame.subarray(48).toString('hex')).toBe(CONTROL_BODY)
    const [r] = new RequestFrameDecoder().push(frame)
    expect(r).toMatchObject({version: 0, app_id: -1, partition_index: -1, client_timeout: 1000, thread_hash: -7920})
  })

  test('a v0 request written the way pegasus-nodejs-client does it (query_cfg, gpid -1.-1)', () => {
    const r = new RequestFrameDecoder().push(nodejsQueryCfg('temp', 5))
    expect(r).toHaveLength(1)
    expect(r[0]).toMatchObject({version: 0, app_id: -1, partition_index: -1, thread_hash: -7920})
    const call = openCall(r[0].body)
    expect(call.name).toBe('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX')
    expect(call.seqid).toBe(5)
    expect(readArgs(call.reader, RPCS.RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX.request)).toEqual({
      app_name: 'temp',
      partition_indices: [],
    })
  })

  test('bad headers are refused', () => {
    expect(() => new RequestFrameDecoder().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/hdr_type mismatch/)
    expect(() => new RequestFrameDecoder().push(Buffer.from('TH'))).not.toThrow()
    expect(() => new RequestFrameDecoder().push(Buffer.from('TX'))).toThrow(WireError)
    const v2 = encodeRequestV1('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 400})
    v2.writeUInt32BE(2, 4)
    expect(() => new RequestFrameDecoder().push(v2)).toThrow(/hdr_version 2/)
    const badLen = encodeRequestV0('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 400})
    badLen.writeUInt32BE(47, 8)
    expect(() => new RequestFrameDecoder().push(badLen)).toThrow(/hdr_length should be 48, but 47/)
    const huge = Buffer.from('54484654000000010000000010000001', 'hex')
    expect(() => new RequestFrameDecoder().push(huge)).toThrow(/too large/)
  })

  test('a reply message type in a request is refused', () => {
    const reply = encodeReply('RPC_CM_CONTROL_META', 1, 'ERR_OK', CONTROL.response, {err: 'ERR_OK', old_level: 400})
    expect(() => openCall(reply.subarray(4 + 4 + 6))).toThrow(/message type 2/)
  })

  test('partial and merged chunks reassemble into the same requests', () => {
    const frames = [
      encodeRequestV1('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 100}),
      nodejsQueryCfg('t2', 2),
      encodeRequestV1('RPC_CM_CONTROL_META', 3, CONTROL.request, {level: 500}),
    ]
    const stream = Buffer.concat(frames)
    const splits = [[1], [3, 7, 16, 17], [stream.length], [5, 47, 48, 49, 60, 61, 100]]
    for (const cuts of [...splits, Array.from({length: stream.length}, (_, i) => i + 1)]) {
      const d = new RequestFrameDecoder()
      const got = []
      let at = 0
      for (const c of [...cuts, stream.length]) {
        got.push(...d.push(stream.subarray(at, Math.max(at, c))))
        at = Math.max(at, c)
      }
      expect(got.map((r) => openCall(r.body).seqid)).toEqual([1, 2, 3])
      expect(d.pending).toBe(0)
    }
  })
})

describe('reply framing', () => {
  test('length, error name, <RPC>_ACK message, result in field 0', () => {
    const reply = encodeReply('RPC_CM_CONTROL_META', 7, 'ERR_OK', CONTROL.response, {err: 'ERR_OK', old_level: 400})
    const name = Buffer.from('RPC_CM_CONTROL_META_ACK').toString('hex')
    const body =
      '00000006' +
      '4552525f4f4b' +
      '80010002' +
      '00000017' +
      name +
      '00000007' +
      '0c0000' +
      '0c0001000000064552525f4f4b08000200000190' +
      '00' +
      '00'
    expect(reply.toString('hex')).toBe((4 + body.length / 2).toString(16).padStart(8, '0') + body)
    const [frame] = new ReplyFrameDecoder().push(reply)
    const opened = openReply(frame)
    expect([opened.err, opened.name, opened.seqid]).toEqual(['ERR_OK', 'RPC_CM_CONTROL_META_ACK', 7])
    expect(readResult(opened.reader, CONTROL.response)).toEqual({err: 'ERR_OK', old_level: 400})
  })

  test('an error reply has no body', () => {
    const reply = encodeReply('RPC_NOPE', 3, 'ERR_HANDLER_NOT_FOUND')
    const [frame] = new ReplyFrameDecoder().push(reply)
    const opened = openReply(frame)
    expect([opened.err, opened.name, opened.seqid, opened.reader.remaining()]).toEqual([
      'ERR_HANDLER_NOT_FOUND',
      'RPC_NOPE_ACK',
      3,
      0,
    ])
  })

  test('split and merged replies', () => {
    const a = encodeReply('RPC_CM_CONTROL_META', 1, 'ERR_OK', CONTROL.response, {err: 'ERR_OK', old_level: 100})
    const b = encodeReply('RPC_CM_CONTROL_META', 2, 'ERR_TIMEOUT')
    const stream = Buffer.concat([a, b, a])
    for (let cut = 1; cut < stream.length; cut += 3) {
      const d = new ReplyFrameDecoder()
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))]
      expect(frames.map((f) => openReply(f).seqid)).toEqual([1, 2, 1])
    }
    expect(() => new ReplyFrameDecoder().push(Buffer.from('00000002', 'hex'))).toThrow(WireError)
  })
})

describe('server', () => {
  let server: RpcServer
  const seen: {req: unknown; info: RpcCallInfo}[] = []
  beforeAll(async () => {
    server = await startRpcServer({
      handlers: {
        RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: async (req: QueryCfgRequest, info) => {
          seen.push({req, info})
          return {
            err: 'ERR_OK',
            response: {err: 'ERR_OBJECT_NOT_FOUND', app_id: 0, partition_count: 0, is_stateful: false, partitions: []},
          }
        },
        RPC_CM_CONTROL_META: async (req) => ({err: 'ERR_OK', response: {err: 'ERR_OK', old_level: req.level}}),
      },
      http: (req, res) => {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({path: req.url}))
      },
    })
  })
  afterAll(() => server.close())

  test('answers a v0 request sent byte-for-byte as the nodejs client sends it', async () => {
    const [frame] = await exchange(server.port, [nodejsQueryCfg('temp', 11)], 1)
    const opened = openReply(frame)
    expect([opened.err, opened.name, opened.seqid]).toEqual([
      'ERR_OK',
      'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK',
      11,
    ])
    expect(readResult(opened.reader, RPCS.RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX.response).err).toBe(
      'ERR_OBJECT_NOT_FOUND',
    )
    expect(seen.at(-1)?.req).toEqual({app_name: 'temp', partition_indices: []})
    expect(seen.at(-1)?.info.header).toMatchObject({version: 0, app_id: -1, partition_index: -1})
    expect(seen.at(-1)?.info.remote).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  test('answers several requests sent in one chunk and one request sent a byte at a time', async () => {
    const frames = [1, 2, 3].map((s) => encodeRequestV1('RPC_CM_CONTROL_META', s, CONTROL.request, {level: s * 100}))
    const replies = await exchange(server.port, [Buffer.concat(frames)], 3)
    expect(replies.map((f) => readResult(openReply(f).reader, CONTROL.response).old_level).sort()).toEqual([
      100, 200, 300,
    ])
    const one = encodeRequestV1('RPC_CM_CONTROL_META', 4, CONTROL.request, {level: 500})
    const bytes = [...one].map((b) => Buffer.from([b]))
    const [r] = await exchange(server.port, bytes, 1)
    expect(readResult(openReply(r).reader, CONTROL.response).old_level).toBe(500)
  })

  test('an unknown RPC gets ERR_HANDLER_NOT_FOUND and the connection stays usable', async () => {
    const unknown = encodeRequestV1('RPC_CM_CREATE_APP', 1, CONTROL.request, {level: 1})
    const known = encodeRequestV1('RPC_CM_CONTROL_META', 2, CONTROL.request, {level: 200})
    const [a, b] = await exchange(server.port, [unknown, known], 2)
    expect([openReply(a).err, openReply(a).name]).toEqual(['ERR_HANDLER_NOT_FOUND', 'RPC_CM_CREATE_APP_ACK'])
    expect(openReply(b).err).toBe('ERR_OK')
  })

  test('a malformed frame closes only that connection', async () => {
    const bad = net.connect(server.port, '127.0.0.1')
    const closed = new Promise<void>((resolve) => bad.on('close', () => resolve()))
    bad.on('error', () => {})
    bad.write(Buffer.from('THFT\x00\x00\x00\x07garbage'))
    await closed
    const [r] = await exchange(
      server.port,
      [encodeRequestV1('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 300})],
      1,
    )
    expect(openReply(r).err).toBe('ERR_OK')
  })

  test('HTTP on the same port', async () => {
    const res = await fetch(`http://${server.address}/meta/cluster`)
    expect(await res.json()).toEqual({path: '/meta/cluster'})
    const post = await fetch(`http://${server.address}/meta/x`, {method: 'POST', body: 'abc'})
    expect(post.status).toBe(200)
  })

  test('hundreds of servers in one process', async () => {
    const servers = await Promise.all(
      Array.from({length: 200}, (_, i) =>
        startRpcServer({
          handlers: {
            RPC_CM_CONTROL_META: async () => ({
              err: 'ERR_OK',
              response: {err: 'ERR_OK', old_level: (100 + i) as MetaFunctionLevel},
            }),
          },
        }),
      ),
    )
    try {
      expect(new Set(servers.map((s) => s.port)).size).toBe(200)
      const levels = await Promise.all(
        servers.map(async (s) => {
          const [r] = await exchange(
            s.port,
            [encodeRequestV1('RPC_CM_CONTROL_META', 1, CONTROL.request, {level: 10000})],
            1,
          )
          return readResult(openReply(r).reader, CONTROL.response).old_level
        }),
      )
      expect(levels).toEqual(servers.map((_, i) => 100 + i))
    } finally {
      await Promise.all(servers.map((s) => s.close()))
    }
  })
})

/** A v0 query_cfg request exactly as pegasus-nodejs-client builds it (operator.js + connection.js). */
function nodejsQueryCfg(appName: string, seqid: number): Buffer {
  const chunks: Buffer[] = []
  const trans = new thrift.TBufferedTransport(undefined, (buf?: Buffer) => {
    if (buf) chunks.push(buf)
  }) as unknown as TTransport
  const p: TProtocol = new thrift.TBinaryProtocol(trans)
  p.writeMessageBegin('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', thrift.Thrift.MessageType.CALL, seqid)
  // meta_query_cfg_args({query}) then query_cfg_request({app_name}) with partition_indices unset.
  p.writeStructBegin('meta_query_cfg_args')
  p.writeFieldBegin('query', thrift.Thrift.Type.STRUCT, 1)
  p.writeStructBegin('query_cfg_request')
  p.writeFieldBegin('app_name', thrift.Thrift.Type.STRING, 1)
  p.writeString(appName)
  p.writeFieldEnd()
  p.writeFieldStop()
  p.writeStructEnd()
  p.writeFieldEnd()
  p.writeFieldStop()
  p.writeStructEnd()
  p.writeMessageEnd()
  p.flush()
  const body = Buffer.concat(chunks)
  const header = Buffer.alloc(40)
  header.write('THFT', 0)
  header.writeInt32BE(0, 4) // hdr_version
  header.writeInt32BE(48, 8) // header_length
  header.writeInt32BE(0, 12) // header_crc32
  header.writeInt32BE(body.length, 16)
  header.writeInt32BE(0, 20) // body_crc32
  header.writeInt32BE(-1, 24) // app_id of Gpid(-1, -1)
  header.writeInt32BE(-1, 28)
  header.writeInt32BE(0, 32) // client_timeout
  header.writeInt32BE(-1 * 7919 + -1, 36) // dsn_gpid_to_thread_hash
  return Buffer.concat([header, Buffer.alloc(8), body])
}

/** Sends chunks on a fresh connection and collects `n` reply frames. */
async function exchange(port: number, chunks: Buffer[], n: number): Promise<Buffer[]> {
  const sock = net.connect(port, '127.0.0.1')
  const d = new ReplyFrameDecoder()
  const frames: Buffer[] = []
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      sock.on('error', reject)
      sock.on('close', () => reject(new Error(`closed after ${frames.length} of ${n} replies`)))
      sock.on('data', (c) => {
        frames.push(...d.push(c))
        if (frames.length >= n) resolve(frames)
      })
      sock.on('connect', async () => {
        for (const c of chunks) {
          sock.write(c)
          if (chunks.length > 1) await new Promise((r) => setImmediate(r))
        }
      })
    })
  } finally {
    sock.destroy()
  }
}
