/**
 * A real, standalone ZooKeeper server for tests and the lab: started from the Debian jars on
 * 127.0.0.1, on a free port, in a throwaway directory; ready only once `srvr` reports a mode.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createConnection, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {LifeboatError} from '../../errors.js'
import {poll} from '../../util/poll.js'

const JAVA_DIR = '/usr/share/java'
const REQUIRED_JARS = ['zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar']
const LOG_JARS = ['slf4j-log4j12.jar', 'log4j-1.2.jar']

export const ZOOKEEPER_INSTALL_HINT =
  'Install ZooKeeper from Debian: apt-get update && apt-get install -y zookeeper (as root; it starts no service).'

export interface ZooKeeperServerOptions {
  /** Where the data and logs go; a fresh temporary directory when absent (removed on stop). */
  dir?: string
  /** A fixed port; a free one when absent. */
  port?: number
  /** JVM heap, e.g. `512m`. */
  heap?: string
  /** How long to wait until it serves, in ms. */
  startTimeoutMs?: number
}

export interface RunningZooKeeper {
  host: '127.0.0.1'
  port: number
  /** `127.0.0.1:PORT`, ready for a client. */
  connectString: string
  dir: string
  pid: number
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory if we made it. */
  stop(): Promise<void>
}

/** Where the jars are (in Debian's `/usr/share/java` unless told), or a LifeboatError that says how to install them. */
export function findZooKeeperClasspath(javaDir = JAVA_DIR): string {
  const missing = REQUIRED_JARS.filter((jar) => !existsSync(join(javaDir, jar)))
  if (missing.length > 0) {
    throw new LifeboatError(
      'ZK_NOT_INSTALLED',
      `ZooKeeper is not installed: ${missing.map((m) => join(javaDir, m)).join(', ')} not found`,
      {
        hints: [ZOOKEEPER_INSTALL_HINT],
      },
    )
  }
  const jars = [...REQUIRED_JARS, ...LOG_JARS.filter((jar) => existsSync(join(javaDir, jar)))]
  return jars.map((jar) => join(javaDir, jar)).join(':')
}

/**
 * A TCP port nobody listens on now, on 127.0.0.1, for a server the lab starts later (its address
 * goes into metadata first, so the port is chosen before the server binds it).
 *
 * The port is picked below the kernel's ephemeral range: a port that `listen(0)` hands out comes
 * from that range, and any outgoing connection on the machine (a test's client, another lab) may
 * take it as its local port before the lab's server binds it (EADDRINUSE). Below the range only
 * another server choosing the same way can, and the random pick makes that unlikely. Falls back to
 * `listen(0)` when the range leaves no room below it or no port there is free.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange()
  const floor = 10_000
  if (low - floor >= 1000) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = floor + Math.floor(Math.random() * (low - floor))
      if (await canBind(port)) return port
    }
  }
  return bindAndRelease(0)
}

/** The kernel's ephemeral port range (Linux), or the IANA one where it cannot be read. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(low) && Number.isInteger(high) && low > 0 && high >= low) return [low, high]
  } catch {
    // not Linux, or no /proc: fall through
  }
  return [49152, 65535]
}

async function canBind(port: number): Promise<boolean> {
  try {
    await bindAndRelease(port)
    return true
  } catch {
    return false
  }
}

/** Binds `port` on 127.0.0.1 (0: any), closes it again and returns the port that was bound. */
function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(bound))
    })
  })
}

/** Sends a four-letter word and returns the answer, or null when nothing answers. */
export async function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    let out = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(null)
    }, timeoutMs)
    socket.on('connect', () => socket.write(word))
    socket.on('data', (chunk) => (out += chunk.toString('utf8')))
    socket.on('error', () => {
      clearTimeout(timer)
      resolve(null)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(out === '' ? null : out)
    })
  })
}

function config(dataDir: string, port: number): string {
  return [
    'tickTime=2000',
    `dataDir=${dataDir}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,mntr,stat,ruok,cons',
    'forceSync=no',
    'autopurge.snapRetainCount=3',
    'autopurge.purgeInterval=1',
    '',
  ].join('\n')
}

const LOG4J = [
  'log4j.rootLogger=WARN, FILE',
  'log4j.appender.FILE=org.apache.log4j.FileAppender',
  'log4j.appender.FILE.File=${zookeeper.log.file}',
  'log4j.appender.FILE.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n',
  '',
].join('\n')

/** Starts a standalone ZooKeeper and resolves once it really serves. */
export async function startZooKeeper(opts: ZooKeeperServerOptions = {}): Promise<RunningZooKeeper> {
  const classpath = findZooKeeperClasspath()
  const ownDir = opts.dir === undefined
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'lifeboat-zk-')))
  const dataDir = join(dir, 'data')
  await mkdir(dataDir, {recursive: true})
  const port = opts.port ?? (await freePort())
  await writeFile(join(dir, 'zoo.cfg'), config(dataDir, port))
  await writeFile(join(dir, 'log4j.properties'), LOG4J)

  const child: ChildProcess = spawn(
    'java',
    [
      `-Xmx${opts.heap ?? '1g'}`,
      `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
      `-Dzookeeper.log.file=${join(dir, 'zookeeper.log')}`,
      '-cp',
      classpath,
      'org.apache.zookeeper.server.ZooKeeperServerMain',
      join(dir, 'zoo.cfg'),
    ],
    {stdio: ['ignore', 'ignore', 'pipe'], detached: false},
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString('utf8')
  })
  let exited: number | null = null
  child.on('exit', (code) => (exited = code ?? -1))
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve))

  const stop = async (): Promise<void> => {
    if (exited === null && child.pid !== undefined) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    }
    if (ownDir) await rm(dir, {recursive: true, force: true})
  }

  const served = await poll(
    async () => {
      if (exited !== null) {
        await stop()
        throw new LifeboatError(
          'ZK_START_FAILED',
          `ZooKeeper exited with code ${exited} before serving on 127.0.0.1:${port}`,
          {
            detail: stderr.trim() || undefined,
            hints: [ZOOKEEPER_INSTALL_HINT, 'Check that Java 17 runs: java -version.'],
          },
        )
      }
      const failed = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 0))])
      if (failed) {
        await stop()
        throw new LifeboatError('ZK_START_FAILED', `could not start java for ZooKeeper: ${failed.message}`, {
          hints: [ZOOKEEPER_INSTALL_HINT],
        })
      }
      const srvr = await fourLetterWord(port, 'srvr', 500)
      return srvr?.includes('Mode:') ? true : undefined
    },
    {timeoutMs: opts.startTimeoutMs ?? 30_000, intervalMs: 100},
  )
  if (!served) {
    await stop()
    throw new LifeboatError(
      'ZK_START_FAILED',
      `ZooKeeper did not serve on 127.0.0.1:${port} within ${opts.startTimeoutMs ?? 30_000} ms`,
      {
        hints: ['The machine may be overloaded; try again.'],
      },
    )
  }
  return {host: '127.0.0.1', port, connectString: `127.0.0.1:${port}`, dir, pid: child.pid ?? -1, stop}
}
