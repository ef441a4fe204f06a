/**
 * The nameserver's metadata as plain objects shaped like OpenMLDB's protobuf messages (field names
 * as in name_server.proto; uint64 as bigint), and the ZooKeeper paths of reference section 1.
 */

export interface PartitionMeta {
  endpoint: string
  is_leader: boolean
  is_alive: boolean
  offset?: bigint
  record_cnt?: bigint
  record_byte_size?: bigint
  tablet_has_partition?: boolean
}

export interface TermPair {
  term: bigint
  offset: bigint
}

export interface TablePartition {
  pid: number
  partition_meta: PartitionMeta[]
  term_offset: TermPair[]
  record_cnt?: bigint
  record_byte_size?: bigint
}

export interface TableInfo {
  name: string
  seg_cnt: number
  table_partition: TablePartition[]
  tid: number
  partition_num: number
  replica_num: number
  format_version: number
  db: string
  storage_mode: string
}

/** The ZooKeeper paths under a cluster root (NameServerImpl::Init). */
export function zkPaths(root: string) {
  const r = root.replace(/\/$/, '')
  return {
    root: r,
    nodes: `${r}/nodes`,
    leader: `${r}/leader`,
    table: `${r}/table`,
    tableIndex: `${r}/table/table_index`,
    term: `${r}/table/term`,
    tableData: `${r}/table/table_data`,
    dbTableData: `${r}/table/db_table_data`,
    notify: `${r}/table/notify`,
    db: `${r}/db`,
    op: `${r}/op`,
    opIndex: `${r}/op/op_index`,
    opData: `${r}/op/op_data`,
    config: `${r}/config`,
    autoFailover: `${r}/config/auto_failover`,
  }
}
export type ZkPaths = ReturnType<typeof zkPaths>

/** A table's partition by pid. */
export function partitionOf(t: TableInfo, pid: number): TablePartition | undefined {
  return t.table_partition.find((p) => p.pid === pid)
}

/** Normalizes a decoded TableInfo (defaults filled, is_alive explicit). */
export function normalizeTable(raw: Record<string, unknown>): TableInfo {
  const parts = (raw.table_partition as Record<string, unknown>[] | undefined) ?? []
  return {
    name: String(raw.name ?? ''),
    seg_cnt: Number(raw.seg_cnt ?? 8),
    tid: Number(raw.tid ?? 0),
    partition_num: Number(raw.partition_num ?? parts.length),
    replica_num: Number(raw.replica_num ?? 0),
    format_version: Number(raw.format_version ?? 1),
    db: String(raw.db ?? ''),
    storage_mode: String(raw.storage_mode ?? 'kMemory'),
    table_partition: parts.map((p) => ({
      pid: Number(p.pid ?? 0),
      partition_meta: ((p.partition_meta as Record<string, unknown>[] | undefined) ?? []).map((m) => ({
        endpoint: String(m.endpoint),
        is_leader: Boolean(m.is_leader),
        is_alive: m.is_alive === undefined ? true : Boolean(m.is_alive),
        ...(m.offset === undefined ? {} : {offset: m.offset as bigint}),
        ...(m.record_cnt === undefined ? {} : {record_cnt: m.record_cnt as bigint}),
        ...(m.record_byte_size === undefined ? {} : {record_byte_size: m.record_byte_size as bigint}),
      })),
      term_offset: ((p.term_offset as {term: bigint; offset: bigint}[] | undefined) ?? []).map((x) => ({
        term: x.term,
        offset: x.offset,
      })),
      ...(p.record_cnt === undefined ? {} : {record_cnt: p.record_cnt as bigint}),
    })),
  }
}
