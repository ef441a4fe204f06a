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
import {gatherOpenMLDBInitFacts, renderOpenMLDBInitSpec} from '../engines/openmldb/init.js'
import {gatherTiKVInitFacts, renderTiKVInitSpec} from '../engines/tikv/init.js'
import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'

/** The `$schema` path an editor resolves from the spec's folder. */
/** Every kind init writes. */
const INIT_KINDS = [...PEGASUS_INIT_KINDS, 'OpenMLDBRecovery', 'TiKVUnsafeRecovery'] as const

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
      'metadata recovery). OpenMLDBRecovery: --zk HOSTS/ROOT (the nameservers under <root>/leader), with every tablet and ' +
      'its state, and the tablets that are back as recover_endpoints. TiKVUnsafeRecovery: --pd HOST:PORT, with every PD ' +
      'member, every store and its state, and the stores PD does not see alive as failed_stores. --name names an OpenMLDB or TiKV cluster (neither store has a name of its own). ' +
      'The first line points editors at schemas/spec.schema.json. Writes to --out, else to stdout. ' +
      `Kinds: ${INIT_KINDS.join(', ')}.`,
  )

  static override examples = [
    '<%= config.bin %> init PegasusDddRecovery --meta 127.0.0.1:34601 --out ddd.yaml',
    '<%= config.bin %> init PegasusMetaRecovery --zk 127.0.0.1:2181/pegasus/onebox --out meta-recovery.yaml',
    '<%= config.bin %> init PegasusMetaRecovery --from runbooks/pegasus-ddd-recovery.yaml',
    '<%= config.bin %> init PegasusZkMigration --meta 127.0.0.1:34601 --target 127.0.0.1:2182/pegasus/onebox -o move.yaml',
    '<%= config.bin %> init OpenMLDBRecovery --zk 127.0.0.1:2181/openmldb --name prod -o openmldb.yaml',
    '<%= config.bin %> init TiKVUnsafeRecovery --pd 127.0.0.1:2379 --name prod -o unsafe-recovery.yaml',
  ]

  static override args = {
    kind: Args.string({
      description: 'The spec kind to write.',
      required: true,
      options: [...INIT_KINDS],
    }),
  }

  static override flags = {
    from: Flags.string({
      description: "Take the cluster from this spec (the same store's) and ask it.",
      helpValue: 'SPEC',
      exclusive: ['zk', 'meta', 'pd'],
    }),
    zk: Flags.string({
      description: 'Find the Pegasus meta leader or the OpenMLDB nameserver in this ZooKeeper: hosts, then the root.',
      helpValue: 'HOSTS/ROOT',
      exclusive: ['from', 'meta', 'pd'],
    }),
    meta: Flags.string({
      description: 'Ask this meta server (comma-separate several).',
      helpValue: 'HOST:PORT',
      exclusive: ['from', 'zk', 'pd'],
    }),
    pd: Flags.string({
      description: 'TiKVUnsafeRecovery: ask this PD client endpoint (comma-separate several).',
      helpValue: 'HOST:PORT',
      exclusive: ['from', 'zk', 'meta'],
    }),
    name: Flags.string({
      description:
        'OpenMLDB, TiKV: the cluster name to write (default: from the ZooKeeper root; tikv-<PD cluster id>).',
      helpValue: 'NAME',
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
    if (flags.out && existsSync(flags.out) && !flags.force) {
      throw new LifeboatError('INIT_FILE_EXISTS', `${flags.out} exists`, {
        hints: ['Choose another --out, or pass --force to overwrite it.'],
      })
    }
    const schemaRef = schemaRefFrom(flags.out ? dirname(resolve(flags.out)) : process.cwd())
    let written: {kind: string; facts: unknown; text: string; summary: string; notes: string[]}
    if (args.kind === 'OpenMLDBRecovery') written = await this.openmldb(flags, schemaRef)
    else if (args.kind === 'TiKVUnsafeRecovery') written = await this.tikv(flags, schemaRef)
    else if ((PEGASUS_INIT_KINDS as readonly string[]).includes(args.kind))
      written = await this.pegasus(args.kind as PegasusInitKind, flags, schemaRef)
    else
      throw new LifeboatError('INIT_UNSUPPORTED', `init cannot write a ${args.kind} spec`, {
        hints: [`Kinds init writes: ${INIT_KINDS.join(', ')}.`],
      })
    if (flags.out) await writeFile(flags.out, written.text)
    if (this.jsonEnabled())
      return {kind: written.kind, out: flags.out ?? null, facts: written.facts, spec: written.text}
    if (!flags.out) {
      process.stdout.write(written.text)
      return undefined
    }
    this.log(`Wrote ${flags.out} (${written.kind} ${written.summary}).`)
    for (const note of written.notes) this.log(note)
    this.log(
      `Next: review it, then\n  ${this.config.bin} validate ${flags.out}\n  ${this.config.bin} plan ${flags.out}`,
    )
    return undefined
  }

  private async pegasus(kind: PegasusInitKind, flags: InitFlags, schemaRef: string): Promise<Written> {
    refuseFlags(kind, flags, ['pd', 'name'])
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
    const target = flags.target ? parseZkTarget(flags.target) : undefined
    const facts = await gatherPegasusInitFacts(source, process.env)
    return {
      kind,
      facts,
      text: renderPegasusInitSpec(kind, facts, {schemaRef, target}),
      summary: `for the cluster ${facts.cluster_name}${facts.nodes.length > 0 ? `, ${facts.nodes.length} replica servers` : ''}`,
      notes: facts.recovery_mode
        ? ['The meta waits in recovery mode and could not list its replica servers: fill in recovery.target_nodes.']
        : [],
    }
  }

  private async openmldb(flags: InitFlags, schemaRef: string): Promise<Written> {
    refuseFlags('OpenMLDBRecovery', flags, ['meta', 'pd', 'target'])
    let zookeeper: {hosts: string; root: string}
    let name = flags.name
    if (flags.zk) {
      zookeeper = parseZkTarget(flags.zk)
    } else if (flags.from) {
      const s = (await specOfStore(flags.from, 'OpenMLDB', '--zk HOSTS/ROOT')) as {
        cluster: {name: string; zookeeper: {hosts: string; root: string}}
      }
      zookeeper = {hosts: s.cluster.zookeeper.hosts, root: s.cluster.zookeeper.root}
      name ??= s.cluster.name
    } else {
      throw new LifeboatError('USAGE', 'init OpenMLDBRecovery needs to know where the cluster is', {
        hints: ['Pass --zk HOSTS/ROOT (--zk_cluster and --zk_root_path of the nameserver flags) or --from SPEC.'],
      })
    }
    const facts = await gatherOpenMLDBInitFacts(zookeeper, process.env, {name})
    const notes: string[] = []
    if (facts.recover_endpoints.length > 0)
      notes.push(`recover_endpoints lists the tablets that are back: ${facts.recover_endpoints.join(', ')}.`)
    if (facts.down_tablets.length > 0)
      notes.push(`Not kHealthy: ${facts.down_tablets.join(', ')}; add those gone for good to offline_endpoints.`)
    return {
      kind: 'OpenMLDBRecovery',
      facts,
      text: renderOpenMLDBInitSpec(facts, {schemaRef}),
      summary: `for the cluster ${facts.cluster_name}, ${facts.tablets.length} tablets, ${facts.unhealthy_partitions} unhealthy partitions`,
      notes,
    }
  }

  private async tikv(flags: InitFlags, schemaRef: string): Promise<Written> {
    refuseFlags('TiKVUnsafeRecovery', flags, ['meta', 'zk', 'target'])
    let pd: string[]
    let name = flags.name
    if (flags.pd) {
      pd = flags.pd
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    } else if (flags.from) {
      const s = (await specOfStore(flags.from, 'TiKV', '--pd HOST:PORT')) as {cluster: {name: string; pd: string[]}}
      pd = s.cluster.pd
      name ??= s.cluster.name
    } else {
      throw new LifeboatError('USAGE', 'init TiKVUnsafeRecovery needs to know where the cluster is', {
        hints: ['Pass --pd HOST:PORT (a PD client endpoint, 2379 by default) or --from SPEC.'],
      })
    }
    const facts = await gatherTiKVInitFacts(pd, {name})
    return {
      kind: 'TiKVUnsafeRecovery',
      facts,
      text: renderTiKVInitSpec(facts, {schemaRef}),
      summary: `for the cluster ${facts.cluster_name}, ${facts.stores.length} stores`,
      notes:
        facts.not_alive.length > 0
          ? [
              `failed_stores lists the stores PD does not see alive (${facts.not_alive.join(', ')}): keep only those gone for good.`,
            ]
          : ['PD sees every store alive: failed_stores is empty, and validate refuses the spec until it names some.'],
    }
  }
}

type InitFlags = {
  from?: string
  zk?: string
  meta?: string
  pd?: string
  name?: string
  target?: string
}

interface Written {
  kind: string
  facts: unknown
  text: string
  summary: string
  notes: string[]
}

/** Refuses flags that mean nothing for `kind`, rather than ignoring them. */
function refuseFlags(kind: string, flags: InitFlags, names: Array<keyof InitFlags>): void {
  const given = names.filter((n) => flags[n] !== undefined)
  if (given.length > 0)
    throw new LifeboatError('USAGE', `--${given[0]} does not apply to ${kind}`, {
      hints: [`${kind} takes: ${SOURCES[kind]}.`],
    })
}

const SOURCES: Record<string, string> = {
  PegasusDddRecovery: '--meta HOST:PORT, --zk HOSTS/ROOT or --from SPEC',
  PegasusMetaRecovery: '--meta HOST:PORT, --zk HOSTS/ROOT or --from SPEC',
  PegasusZkMigration: '--meta HOST:PORT, --zk HOSTS/ROOT or --from SPEC, and --target HOSTS/ROOT',
  OpenMLDBRecovery: '--zk HOSTS/ROOT or --from SPEC, and optionally --name NAME',
  TiKVUnsafeRecovery: '--pd HOST:PORT or --from SPEC, and optionally --name NAME',
}

/** The parsed document of a spec of the same store (OpenMLDB, TiKV), for --from. */
async function specOfStore(path: string, store: string, instead: string): Promise<unknown> {
  const {spec, planSpec} = await loadSpecForEngine(path, process.env)
  if (!planSpec.kind.startsWith(store)) {
    throw new LifeboatError(
      'INIT_UNSUPPORTED',
      `${path} is a ${planSpec.kind} spec; this init --from reads ${store} specs`,
      {
        hints: [`Use ${instead}.`],
      },
    )
  }
  return spec
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
