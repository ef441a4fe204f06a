/**
 * `lifeboat init KIND --from SPEC | --zk HOSTS/ROOT | --meta HOST:PORT`: an annotated spec written
 * from the live cluster, read only.
 */
import {existsSync} from 'node:fs'
import {writeFile} from 'node:fs/promises'
import {dirname, join, relative, resolve, sep} from 'node:path'

import {Args, Flags} from '@oclif/core'

import {loadSpecForEngine} from '../apply/plan-spec.js'
import {BaseCommand, withExitCodes} from '../cli/base-command.js'
import {
  PEGASUS_INIT_KINDS,
  gatherPegasusInitFacts,
  parseZkTarget,
  renderPegasusInitSpec,
  type PegasusInitKind,
  type PegasusInitSource,
} from '../engines/pegasus/init.js'
import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'

/** The `$schema` path an editor resolves from the spec's folder. */
function schemaRefFrom(dir: string): string {
  const rel = relative(dir, join(packageRoot(), 'schemas', 'spec.schema.json'))
    .split(sep)
    .join('/')
  return rel.startsWith('.') || rel.startsWith('/') ? rel : `./${rel}`
}

export default class Init extends BaseCommand {
  static override summary = 'Write an annotated spec from a live cluster (read-only).'

  static override description = withExitCodes(
    'Asks the live cluster for what a spec of KIND needs and writes it with comments on every choice: the cluster name, ' +
      'the meta servers, the ZooKeeper hosts and root from cluster_info, and for a PegasusMetaRecovery the replica servers ' +
      'the meta lists as its target nodes. Start from one of: --meta HOST:PORT (a meta server), --zk HOSTS/ROOT (the meta ' +
      'leader named in ZooKeeper), or --from SPEC (the cluster section of another spec, e.g. to follow a DDD recovery with a ' +
      'metadata recovery). The first line points editors at schemas/spec.schema.json. Writes to --out, else to stdout. ' +
      `Kinds: ${PEGASUS_INIT_KINDS.join(', ')}.`,
  )

  static override examples = [
    '<%= config.bin %> init PegasusDddRecovery --meta 127.0.0.1:34601 --out ddd.yaml',
    '<%= config.bin %> init PegasusMetaRecovery --zk 127.0.0.1:2181/pegasus/onebox --out meta-recovery.yaml',
    '<%= config.bin %> init PegasusMetaRecovery --from runbooks/pegasus-ddd-recovery.yaml',
    '<%= config.bin %> init PegasusZkMigration --meta 127.0.0.1:34601 --target 127.0.0.1:2182/pegasus/onebox -o move.yaml',
  ]

  static override args = {
    kind: Args.string({
      description: 'The spec kind to write.',
      required: true,
      options: [...PEGASUS_INIT_KINDS, 'OpenMLDBRecovery', 'TiKVUnsafeRecovery'],
    }),
  }

  static override flags = {
    from: Flags.string({
      description: 'Take the cluster from this spec (any Pegasus kind) and ask its meta servers.',
      helpValue: 'SPEC',
      exclusive: ['zk', 'meta'],
    }),
    zk: Flags.string({
      description: 'Find the meta leader in this ZooKeeper: hosts, then the cluster root.',
      helpValue: 'HOSTS/ROOT',
      exclusive: ['from', 'meta'],
    }),
    meta: Flags.string({
      description: 'Ask this meta server (comma-separate several).',
      helpValue: 'HOST:PORT',
      exclusive: ['from', 'zk'],
    }),
    target: Flags.string({
      description: 'PegasusZkMigration: the ZooKeeper the metadata moves to.',
      helpValue: 'HOSTS/ROOT',
    }),
    out: Flags.string({char: 'o', description: 'Write the spec to this file instead of stdout.', helpValue: 'FILE'}),
    force: Flags.boolean({description: 'Overwrite --out when it exists.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Init)
    if (!(PEGASUS_INIT_KINDS as readonly string[]).includes(args.kind)) {
      throw new LifeboatError('INIT_UNSUPPORTED', `init cannot write a ${args.kind} spec yet`, {
        hints: [
          `Start from the example spec of ${args.kind} under test/fixtures or the runbooks, then check it with \`lifeboat validate\`.`,
        ],
      })
    }
    const kind = args.kind as PegasusInitKind
    if (kind === 'PegasusZkMigration' && !flags.target) {
      throw new LifeboatError('USAGE', 'a PegasusZkMigration spec needs the ZooKeeper it moves to', {
        hints: ['Pass --target HOSTS/ROOT, e.g. --target 10.0.0.9:2181/pegasus/onebox.'],
      })
    }
    let source: PegasusInitSource
    if (flags.meta) {
      source = {
        meta: flags.meta
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      }
    } else if (flags.zk) {
      source = {zk: parseZkTarget(flags.zk)}
    } else if (flags.from) {
      source = await sourceFromSpec(flags.from)
    } else {
      throw new LifeboatError('USAGE', 'init needs to know where the cluster is', {
        hints: ['Pass one of --meta HOST:PORT, --zk HOSTS/ROOT or --from SPEC.'],
      })
    }
    if (flags.out && existsSync(flags.out) && !flags.force) {
      throw new LifeboatError('INIT_FILE_EXISTS', `${flags.out} exists`, {
        hints: ['Choose another --out, or pass --force to overwrite it.'],
      })
    }
    const target = flags.target ? parseZkTarget(flags.target) : undefined
    const facts = await gatherPegasusInitFacts(source, process.env)
    const text = renderPegasusInitSpec(kind, facts, {
      schemaRef: schemaRefFrom(flags.out ? dirname(resolve(flags.out)) : process.cwd()),
      target,
    })
    if (flags.out) await writeFile(flags.out, text)
    if (this.jsonEnabled()) return {kind, out: flags.out ?? null, facts, spec: text}
    if (!flags.out) {
      process.stdout.write(text)
      return undefined
    }
    this.log(
      `Wrote ${flags.out} (${kind} for the cluster ${facts.cluster_name}${facts.nodes.length > 0 ? `, ${facts.nodes.length} replica servers` : ''}).`,
    )
    if (facts.recovery_mode)
      this.log('The meta waits in recovery mode and could not list its replica servers: fill in recovery.target_nodes.')
    this.log(
      `Next: review it, then\n  ${this.config.bin} validate ${flags.out}\n  ${this.config.bin} plan ${flags.out}`,
    )
    return undefined
  }
}

/** The cluster section (and target nodes, when listed) of another Pegasus spec. */
async function sourceFromSpec(path: string): Promise<PegasusInitSource> {
  const {spec, planSpec} = await loadSpecForEngine(path, process.env)
  if (!planSpec.kind.startsWith('Pegasus')) {
    throw new LifeboatError('INIT_UNSUPPORTED', `${path} is a ${planSpec.kind} spec; init --from reads Pegasus specs`, {
      hints: ['Use --meta HOST:PORT or --zk HOSTS/ROOT.'],
    })
  }
  const s = spec as {
    cluster: {name: string; meta_servers: string[]; zookeeper?: {hosts: string; root: string}}
    recovery?: {target_nodes?: string[]}
  }
  return {
    spec: {
      name: s.cluster.name,
      meta_servers: s.cluster.meta_servers,
      zookeeper: s.cluster.zookeeper ? {hosts: s.cluster.zookeeper.hosts, root: s.cluster.zookeeper.root} : undefined,
      nodes: s.recovery?.target_nodes,
    },
    path,
  }
}
