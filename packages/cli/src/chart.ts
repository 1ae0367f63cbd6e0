// `--chart FILE.svg`: the table as a bar chart — per group two bars (no share, share) with their MiB
// and the reduction. Hand-written SVG: no fonts or scripts to fetch, opens in any browser.

export interface ChartGroup {
  /** Lines under the bars (image pair, policy). */
  readonly title: readonly string[];
  readonly noShareBytes: number;
  readonly shareBytes: number;
}

const MiB = 1024 * 1024;
const BAR = 56;
const GAP = 14;
const GROUP = 2 * BAR + GAP + 70;
const PLOT_H = 260;
const TOP = 64;
const LEFT = 64;

/** Text escaped for SVG content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis step (1, 2 or 5 × 10^k) giving about five gridlines up to `max`. */
export function niceStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function compareChartSvg(title: string, groups: readonly ChartGroup[]): string {
  const maxMiB = Math.max(1e-9, ...groups.flatMap((g) => [g.noShareBytes / MiB, g.shareBytes / MiB]));
  const step = niceStep(maxMiB);
  const top = Math.ceil(maxMiB / step) * step;
  const titleLines = Math.max(1, ...groups.map((g) => g.title.length));
  const width = Math.max(420, LEFT + groups.length * GROUP + 40);
  const height = TOP + PLOT_H + 44 + titleLines * 16 + 16;
  const y = (mibValue: number): number => TOP + PLOT_H - (mibValue / top) * PLOT_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // Legend.
  out.push(
    `<rect x="${LEFT}" y="36" width="12" height="12" fill="#9aa5b1"/><text x="${LEFT + 18}" y="46">no page cache share</text>`,
  );
  out.push(
    `<rect x="${LEFT + 150}" y="36" width="12" height="12" fill="#2b7bb9"/><text x="${LEFT + 168}" y="46">page cache share</text>`,
  );
  // Axis and gridlines.
  for (let v = 0; v <= top + 1e-9; v += step) {
    const gy = y(v).toFixed(1);
    out.push(`<line x1="${LEFT}" y1="${gy}" x2="${width - 20}" y2="${gy}" stroke="#e3e6ea"/>`);
    out.push(`<text x="${LEFT - 6}" y="${gy}" dy="4" text-anchor="end" fill="#555">${Number(v.toPrecision(6))}</text>`);
  }
  out.push(
    `<text transform="translate(16 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle" fill="#555">page cache (MiB)</text>`,
  );
  out.push(`<line x1="${LEFT}" y1="${TOP + PLOT_H}" x2="${width - 20}" y2="${TOP + PLOT_H}" stroke="#333"/>`);
  groups.forEach((g, i) => {
    const x0 = LEFT + (width - 20 - LEFT - groups.length * GROUP) / 2 + i * GROUP + (GROUP - 2 * BAR - GAP) / 2;
    const bars: [number, string, number][] = [
      [g.noShareBytes, '#9aa5b1', x0],
      [g.shareBytes, '#2b7bb9', x0 + BAR + GAP],
    ];
    for (const [bytes, color, x] of bars) {
      const v = bytes / MiB;
      const by = y(v);
      out.push(
        `<rect x="${x}" y="${by.toFixed(1)}" width="${BAR}" height="${(TOP + PLOT_H - by).toFixed(1)}" fill="${color}"/>`,
      );
      out.push(`<text x="${x + BAR / 2}" y="${(by - 5).toFixed(1)}" text-anchor="middle">${v.toFixed(1)}</text>`);
    }
    const red = g.noShareBytes > 0 ? `${((1 - g.shareBytes / g.noShareBytes) * 100).toFixed(1)}% less` : '-';
    const cx = x0 + BAR + GAP / 2;
    out.push(`<text x="${cx}" y="${TOP + PLOT_H + 18}" text-anchor="middle" font-weight="bold">${esc(red)}</text>`);
    g.title.forEach((line, j) =>
      out.push(`<text x="${cx}" y="${TOP + PLOT_H + 36 + j * 16}" text-anchor="middle">${esc(line)}</text>`),
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
