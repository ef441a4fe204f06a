import http from 'node:http'
import net from 'node:net'
import {afterAll, describe, expect, test} from 'vitest'
import {HttpError, httpJson, httpRequest, parseJson, stringifyJson} from '../../src/http/index.js'

const servers: {close(): void}[] = []
afterAll(() => servers.forEach((s) => s.close()))

/** A real HTTP server on 127.0.0.1:0; returns its host:port. */
async function serve(handler: http.RequestListener): Promise<string> {
  const srv = http.createServer(handler)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  servers.push({close: () => srv.close() && srv.closeAllConnections()})
  return `127.0.0.1:${(srv.address() as net.AddressInfo).port}`
}

async function deadPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

describe('lossless JSON', () => {
  test('integers past 2^53 become bigint, others stay numbers, and bigint is written as digits', () => {
    const v = parseJson(
      '{"id":18446744073709551615,"neg":-9007199254740993,"safe":9007199254740991,"f":1.5,"e":1e3,"s":"7"}',
    )
    expect(v).toEqual({
      id: 18446744073709551615n,
      neg: -9007199254740993n,
      safe: 9007199254740991,
      f: 1.5,
      e: 1000,
      s: '7',
    })
    expect(stringifyJson({id: 18446744073709551615n, list: [1n, 2], skip: undefined})).toBe(
      '{"id":18446744073709551615,"list":[1,2]}',
    )
    expect(parseJson(stringifyJson({x: 2n ** 64n + 1n}))).toEqual({x: 2n ** 64n + 1n})
    expect(() => parseJson('{"a":')).toThrow(SyntaxError)
  })
})

describe('httpRequest / httpJson against a real server', () => {
  test('sends JSON bodies and headers, parses replies losslessly, returns any status', async () => {
    const server = await serve(async (req, res) => {
      const body = await readBody(req)
      res.setHeader('content-type', 'application/json')
      if (req.url === '/missing') return void res.writeHead(404).end('no such page')
      res.end(
        `{"method":"${req.method}","path":"${req.url}","ct":"${req.headers['content-type'] ?? ''}","x":"${req.headers['x-token'] ?? ''}","echo":${body || 'null'},"big":12345678901234567890}`,
      )
    })
    const got = await httpJson<Record<string, unknown>>({
      server,
      method: 'POST',
      path: '/api?a=1',
      body: {op_id: 9007199254740993n},
      headers: {'x-token': 't'},
    })
    expect(got).toEqual({
      method: 'POST',
      path: '/api?a=1',
      ct: 'application/json',
      x: 't',
      echo: {op_id: 9007199254740993n},
      big: 12345678901234567890n,
    })
    const reply = await httpRequest({server, method: 'GET', path: '/missing'})
    expect([reply.status, reply.text]).toEqual([404, 'no such page'])
    const err = (await httpJson({server, method: 'GET', path: '/missing'}).catch((e) => e)) as HttpError
    expect(err).toBeInstanceOf(HttpError)
    expect([err.code, err.status, err.body, err.server, err.method, err.path]).toEqual([
      'HTTP_STATUS',
      404,
      'no such page',
      server,
      'GET',
      '/missing',
    ])
    expect(err.message).toBe(`${server} answered GET /missing with HTTP 404`)
    expect(err.hints.length).toBeGreaterThan(0)
  })

  test('a body that is not JSON is HTTP_BAD_JSON naming server and path', async () => {
    const server = await serve((_req, res) => res.end('<html>oops</html>'))
    const err = (await httpJson({server, method: 'GET', path: '/x'}).catch((e) => e)) as HttpError
    expect([err.code, err.status, err.body]).toEqual(['HTTP_BAD_JSON', 200, '<html>oops</html>'])
    expect(err.message).toContain(`${server} sent invalid JSON for GET /x`)
  })

  test('a refused connection fails at once, without retries', async () => {
    const server = `127.0.0.1:${await deadPort()}`
    const err = (await httpRequest({server, method: 'GET', path: '/meta/cluster', timeoutMs: 60_000}).catch(
      (e) => e,
    )) as HttpError
    expect([err.code, err.server, err.path]).toEqual(['HTTP_CONNECTION_REFUSED', server, '/meta/cluster'])
    expect(err.message).toBe(`cannot connect to ${server} for GET /meta/cluster: connection refused`)
  })

  test('a server that never answers times out; GET is retried a bounded number of times, POST is sent once', async () => {
    const seen: string[] = []
    const server = await serve((req) => void seen.push(req.method ?? '')) // never answers
    const get = (await httpRequest({server, method: 'GET', path: '/slow', timeoutMs: 150}).catch((e) => e)) as HttpError
    expect(get.code).toBe('HTTP_TIMEOUT')
    expect(get.message).toBe(`${server} did not answer GET /slow within 150 ms`)
    await expect.poll(() => seen.length).toBe(3)
    seen.length = 0
    const post = (await httpRequest({server, method: 'POST', path: '/slow', body: {}, timeoutMs: 150}).catch(
      (e) => e,
    )) as HttpError
    expect(post.code).toBe('HTTP_TIMEOUT')
    await expect.poll(() => seen.length).toBe(1)
    // Explicitly idempotent PUT: retried like a GET.
    seen.length = 0
    await httpRequest({server, method: 'PUT', path: '/slow', timeoutMs: 150, idempotent: true}).catch(() => undefined)
    await expect.poll(() => seen.length).toBe(3)
  })

  test('a connection that breaks mid-reply is retried for GET and then succeeds', async () => {
    let calls = 0
    const server = await serve((_req, res) => {
      calls += 1
      if (calls === 1) return void res.socket?.destroy()
      res.end('{"ok":true}')
    })
    expect(await httpJson({server, method: 'GET', path: '/flaky'})).toEqual({ok: true})
    expect(calls).toBe(2)
    calls = 0
    const err = (await httpJson({server, method: 'DELETE', path: '/flaky'}).catch((e) => e)) as HttpError
    expect([err.code, calls]).toEqual(['HTTP_UNREACHABLE', 1])
    expect(err.message).toContain(`cannot reach ${server} for DELETE /flaky`)
  })

  test('an aborted signal abandons the call with HTTP_ABORTED', async () => {
    const server = await serve(() => undefined)
    const ac = new AbortController()
    const p = httpRequest({server, method: 'GET', path: '/wait', timeoutMs: 60_000, signal: ac.signal}).catch((e) => e)
    ac.abort()
    expect(((await p) as HttpError).code).toBe('HTTP_ABORTED')
  })

  test('keeps connections alive across calls', async () => {
    const ports = new Set<number>()
    const server = await serve((req, res) => {
      ports.add(req.socket.remotePort ?? 0)
      res.end('1')
    })
    for (let i = 0; i < 5; i++) await httpJson({server, method: 'GET', path: '/n'})
    expect(ports.size).toBe(1)
  })

  test('a server that is not host:port is refused with a hint', async () => {
    const err = (await httpRequest({server: 'nohost', method: 'GET', path: '/'}).catch((e) => e)) as HttpError
    expect(err.code).toBe('HTTP_UNREACHABLE')
    expect(err.message).toContain('"nohost" is not host:port')
  })
})
