// The one table style of every command: the seed's cover-letter tables — ASCII borders and a rule
// between rows, no colours — so output reads the same everywhere, pastes into mail and diffs cleanly.
import Table from 'cli-table3';

export const TABLE_CHARS = {
  top: '-',
  'top-mid': '+',
  'top-left': '+',
  'top-right': '+',
  bottom: '-',
  'bottom-mid': '+',
  'bottom-left': '+',
  'bottom-right': '+',
  left: '|',
  'left-mid': '+',
  mid: '-',
  'mid-mid': '+',
  right: '|',
  'right-mid': '+',
  middle: '|',
};

export type TableOptions = Omit<Table.TableConstructorOptions, 'chars' | 'style' | 'head'>;

/** A table with column heads, or without (key/value rows pushed as `{ key: value }`). */
export function table(head?: readonly string[], opts: TableOptions = {}): Table.Table {
  return new Table({
    ...opts,
    ...(head ? { head: [...head] } : {}),
    chars: TABLE_CHARS,
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
  });
}
