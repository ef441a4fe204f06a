/**
 * The meta function level (`meta_admin.meta_function_level`) by name and by value, once for the
 * engines and the lab. Pegasus's shell prints the IDL name (`fl_steady`); its `set_meta_level`
 * takes the short one (`steady`). Both spellings are read; each writer picks one.
 */
import {MetaFunctionLevel} from './types.js'

/** The levels an operator can set, lowest first, by their short names. */
export const META_LEVEL_NAMES = ['stopped', 'blind', 'freezed', 'steady', 'lively'] as const
export type MetaLevelName = (typeof META_LEVEL_NAMES)[number]

/** The IDL name of a level, e.g. `fl_steady`, or `fl_invalid`. */
export type MetaLevelIdlName = keyof typeof MetaFunctionLevel

/** Values by short name: `{stopped: 100, ..., lively: 500}`. */
export const META_LEVEL_VALUES: Readonly<Record<MetaLevelName, MetaFunctionLevel>> = {
  stopped: MetaFunctionLevel.fl_stopped,
  blind: MetaFunctionLevel.fl_blind,
  freezed: MetaFunctionLevel.fl_freezed,
  steady: MetaFunctionLevel.fl_steady,
  lively: MetaFunctionLevel.fl_lively,
}

/** The IDL name of a level value (`fl_steady`); `fl_invalid` for a value Pegasus does not define. */
export function metaLevelIdlName(value: number): MetaLevelIdlName {
  const hit = (Object.keys(MetaFunctionLevel) as MetaLevelIdlName[]).find((k) => MetaFunctionLevel[k] === value)
  return hit ?? 'fl_invalid'
}

/** The short name of a level value (`steady`, `invalid`); the number as text for a value Pegasus does not define. */
export function metaLevelName(value: number): string {
  const hit = (Object.keys(MetaFunctionLevel) as MetaLevelIdlName[]).find((k) => MetaFunctionLevel[k] === value)
  return hit ? hit.slice(3) : String(value)
}

/** The value of a level named either way (`steady` or `fl_steady`); undefined for any other text. */
export function metaLevelValue(name: string): MetaFunctionLevel | undefined {
  const key = name.startsWith('fl_') ? name : `fl_${name}`
  return Object.hasOwn(MetaFunctionLevel, key) ? MetaFunctionLevel[key as MetaLevelIdlName] : undefined
}
