/**
 * A uPlot chart that fills its container's width and follows it when the window or the layout
 * changes. uPlot draws on a canvas at a fixed pixel size: it does not resize by itself, so a
 * ResizeObserver on the container calls `setSize`. The container must be allowed to shrink
 * (`min-width: 0` in a grid or flex parent), or the canvas holds it at its first width.
 *
 * The canvas is hidden from assistive technology: every chart comes with a text alternative
 * (`children`: a summary sentence and the data as a table).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

interface ChartProps {
  title: string;
  /** Options without the size: memoize them, a new object rebuilds the chart. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height?: number;
  /** The text alternative. */
  children?: ComponentChildren;
}

export function Chart({ title, options, data, height = 220, children }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot({ ...options, width: Math.max(el.clientWidth, 200), height }, dataRef.current, el);
    plot.current = u;
    const observer = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (width > 0 && width !== u.width) u.setSize({ width, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [options, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure class="chart">
      <div class="chart-canvas" ref={box} aria-hidden="true" />
      <figcaption class="chart-text">
        <span class="vh">{title}. </span>
        {children}
      </figcaption>
    </figure>
  );
}
