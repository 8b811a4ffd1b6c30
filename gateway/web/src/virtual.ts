/**
 * A Preact hook around @tanstack/virtual-core's `Virtualizer` (the library ships adapters for
 * React, Vue, Solid, Svelte and Lit, not Preact). It follows the React adapter: one Virtualizer
 * per component, its options set again on every render (`setOptions` replaces them all, so every
 * option is passed each time), `_didMount` once after the first render and `_willUpdate` after
 * every render, and `onChange` re-renders the component.
 */
import { useLayoutEffect, useReducer, useState } from 'preact/hooks';
import type { RefObject } from 'preact';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect, type VirtualizerOptions } from '@tanstack/virtual-core';

export interface VirtualRowsOptions {
  count: number;
  /** Every row has this height in pixels (CSS must agree). */
  rowHeight: number;
  scrollRef: RefObject<HTMLElement | null>;
  /** Pixels above the first row inside the scroll element (a sticky table header). */
  paddingStart?: number;
  overscan?: number;
  getItemKey?: (index: number) => string | number;
}

export function useVirtualRows(o: VirtualRowsOptions): Virtualizer<HTMLElement, HTMLElement> {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const options: VirtualizerOptions<HTMLElement, HTMLElement> = {
    count: o.count,
    getScrollElement: () => o.scrollRef.current,
    estimateSize: () => o.rowHeight,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    overscan: o.overscan ?? 8,
    paddingStart: o.paddingStart ?? 0,
    onChange: () => rerender(0),
    ...(o.getItemKey ? { getItemKey: o.getItemKey } : {}),
  };
  const [virtualizer] = useState(() => new Virtualizer<HTMLElement, HTMLElement>(options));
  virtualizer.setOptions(options);
  useLayoutEffect(() => virtualizer._didMount(), [virtualizer]);
  useLayoutEffect(() => virtualizer._willUpdate());
  return virtualizer;
}
