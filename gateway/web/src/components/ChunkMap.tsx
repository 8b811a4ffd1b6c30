/**
 * `bwc verify`'s per-chunk map as a grid of small cells: ok, altered (its hash does not match the
 * signed manifest) or missing. Each cell names its chunk and state on hover; the grid as a whole
 * is described in words, listing the chunks that are not ok.
 */
import type { ClipReportJson } from '../../../api/types.js';

type Mark = 'ok' | 'altered' | 'missing';
const MARKS: Record<string, Mark> = { '.': 'ok', N: 'altered', M: 'missing' };

function ranges(indexes: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < indexes.length; i++) {
    const start = indexes[i]!;
    let end = start;
    while (indexes[i + 1] === end + 1) end = indexes[++i]!;
    out.push(start === end ? String(start) : `${start}–${end}`);
  }
  return out.length > 20 ? `${out.slice(0, 20).join(', ')} and ${out.length - 20} more ranges` : out.join(', ');
}

export function ChunkMap({ report }: { report: ClipReportJson }) {
  const cells = [...report.chunkMap].map((c) => MARKS[c] ?? 'altered');
  const altered = cells.flatMap((m, i) => (m === 'altered' ? [i] : []));
  const missing = cells.flatMap((m, i) => (m === 'missing' ? [i] : []));
  const words =
    `${report.chunks.total} chunks: ${report.chunks.ok} ok, ${report.chunks.altered} altered, ${report.chunks.missing} missing.` +
    (altered.length ? ` Altered: ${ranges(altered)}.` : '') +
    (missing.length ? ` Missing: ${ranges(missing)}.` : '');
  return (
    <div class="chunkmap">
      <ul class="legend" aria-label="Legend">
        <li>
          <span class="cell cell-ok" aria-hidden="true" /> ok: {report.chunks.ok}
        </li>
        <li>
          <span class="cell cell-altered" aria-hidden="true" /> altered: {report.chunks.altered}
        </li>
        <li>
          <span class="cell cell-missing" aria-hidden="true" /> missing: {report.chunks.missing}
        </li>
        <li class="muted">of {report.chunks.total}</li>
      </ul>
      <div class="cells" role="img" aria-label={`Chunk map. ${words}`}>
        {cells.map((m, i) => (
          <span key={i} class={`cell cell-${m}`} title={`chunk ${i}: ${m}`} />
        ))}
      </div>
      <p class="chunkmap-words">{words}</p>
    </div>
  );
}
