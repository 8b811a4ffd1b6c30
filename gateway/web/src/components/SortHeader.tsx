/** A column header that sorts the table: a button, so it works from the keyboard, with aria-sort. */
export type SortDir = 'ascending' | 'descending';

interface SortHeaderProps<K extends string> {
  label: string;
  column: K;
  sort: { column: K; dir: SortDir };
  onSort: (column: K) => void;
  class?: string;
}

export function SortHeader<K extends string>({ label, column, sort, onSort, class: cls }: SortHeaderProps<K>) {
  const active = sort.column === column;
  return (
    <th scope="col" class={cls} aria-sort={active ? sort.dir : 'none'}>
      <button type="button" class="sort" onClick={() => onSort(column)}>
        {label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (sort.dir === 'ascending' ? ' ▲' : ' ▼') : ' ↕'}
        </span>
      </button>
    </th>
  );
}

/** The next sort state after clicking `column`: the same column flips, another starts ascending. */
export function nextSort<K extends string>(sort: { column: K; dir: SortDir }, column: K): { column: K; dir: SortDir } {
  if (sort.column === column) return { column, dir: sort.dir === 'ascending' ? 'descending' : 'ascending' };
  return { column, dir: 'ascending' };
}
