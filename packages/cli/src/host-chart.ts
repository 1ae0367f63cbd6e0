// `ishare host --svg FILE`: who pays, as a bar chart. Per container and phase, a stacked bar of the
// kernel's charge (paid for itself, paid for pages others read too) with what it read for free on top
// (outlined: someone else pays), and beside it the split account. Hand-written SVG like chart.ts: no
// fonts or scripts to fetch.
import type { HostPhase, HostResult } from '@ishare/workers';
import { esc, niceStep } from './chart.ts';

const MiB = 1024 * 1024;
const BAR = 30;
const GAP = 6;
const PHASE_GAP = 18;
const GROUP = 4 * BAR + 2 * GAP + PHASE_GAP + 40;
const PLOT_H = 260;
const TOP = 84;
const LEFT = 64;

const SELF = '#2b7bb9';
const OTHERS = '#f0a030';
const FREE = '#ffffff';
const SPLIT = '#6aa84f';

export function hostChartSvg(title: string, r: HostResult): string {
  const phases: [string, HostPhase][] = [
    ['no share', r.noShare],
    ['share', r.share],
  ];
  const names = r.share.containers.map((c) => c.name);
  const heights = phases.flatMap(([, p]) =>
    p.containers.flatMap((c) => [(c.memoryCurrent + c.freeRead) / MiB, c.splitCharge / MiB]),
  );
  const maxMiB = Math.max(1e-6, ...heights);
  const step = niceStep(maxMiB);
  const top = Math.ceil(maxMiB / step) * step;
  const width = Math.max(720, LEFT + names.length * GROUP + 40);
  const height = TOP + PLOT_H + 70;
  const y = (v: number): number => TOP + PLOT_H - (v / top) * PLOT_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  const legend: [string, string, string][] = [
    [SELF, '#333', 'paid for itself'],
    [OTHERS, '#333', 'paid for others too'],
    [FREE, '#333', 'read for free'],
    [SPLIT, '#333', 'split account'],
  ];
  legend.forEach(([fill, stroke, text], i) => {
    const x = LEFT + i * 150;
    out.push(
      `<rect x="${x}" y="40" width="12" height="12" fill="${fill}" stroke="${stroke}" stroke-dasharray="${fill === FREE ? '3 2' : 'none'}"/><text x="${x + 18}" y="50">${text}</text>`,
    );
  });
  out.push(
    `<text x="${LEFT}" y="70" fill="#555">per container: the kernel's charge, then the split; without sharing (left), with inode_share (right)</text>`,
  );
  for (let v = 0; v <= top + 1e-9; v += step) {
    const gy = y(v).toFixed(1);
    out.push(`<line x1="${LEFT}" y1="${gy}" x2="${width - 20}" y2="${gy}" stroke="#e3e6ea"/>`);
    out.push(`<text x="${LEFT - 6}" y="${gy}" dy="4" text-anchor="end" fill="#555">${Number(v.toPrecision(6))}</text>`);
  }
  out.push(
    `<text transform="translate(16 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle" fill="#555">MiB</text>`,
  );
  out.push(`<line x1="${LEFT}" y1="${TOP + PLOT_H}" x2="${width - 20}" y2="${TOP + PLOT_H}" stroke="#333"/>`);
  const rect = (x: number, from: number, to: number, fill: string, dashed = false): void => {
    if (to <= from) return;
    const y1 = y(to);
    const h = y(from) - y1;
    out.push(
      `<rect x="${x}" y="${y1.toFixed(1)}" width="${BAR}" height="${h.toFixed(1)}" fill="${fill}"${dashed ? ' stroke="#333" stroke-dasharray="3 2"' : ''}/>`,
    );
  };
  names.forEach((name, i) => {
    const gx = LEFT + 20 + i * GROUP;
    phases.forEach(([label, p], k) => {
      const c = p.containers[i];
      const x = gx + k * (2 * BAR + GAP + PHASE_GAP);
      const self = (c.memoryCurrent - c.paidShared) / MiB;
      const all = c.memoryCurrent / MiB;
      rect(x, 0, self, SELF);
      rect(x, self, all, OTHERS);
      rect(x, all, all + c.freeRead / MiB, FREE, true);
      const free = c.freeRead / MiB;
      out.push(
        `<text x="${x + BAR / 2}" y="${(y(all + free) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${all.toFixed(1)}</text>`,
      );
      if (free > 0 && y(all) - y(all + free) >= 14)
        out.push(
          `<text x="${x + BAR / 2}" y="${((y(all) + y(all + free)) / 2 + 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#555">+${free.toFixed(1)}</text>`,
        );
      const split = c.splitCharge / MiB;
      rect(x + BAR + GAP, 0, split, SPLIT);
      out.push(
        `<text x="${x + BAR + GAP + BAR / 2}" y="${(y(split) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${split.toFixed(1)}</text>`,
      );
      out.push(
        `<text x="${x + BAR + GAP / 2}" y="${TOP + PLOT_H + 16}" text-anchor="middle" fill="#555" font-size="10">${label}</text>`,
      );
    });
    const cx = gx + (4 * BAR + 2 * GAP + PHASE_GAP) / 2;
    const state = r.share.containers[i].state === 'stopped' ? ' (stopped)' : '';
    out.push(
      `<text x="${cx}" y="${TOP + PLOT_H + 36}" text-anchor="middle" font-weight="bold">${esc(name + state)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
