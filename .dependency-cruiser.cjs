// The layer rules of DESIGN.md, checked on every import, type-only ones included
// (tsPreCompilationDeps). Violations that predate the rules are listed in
// .dependency-cruiser-known-violations.json (`pnpm lint:layers:baseline` rewrites it); that list only
// shrinks: a new violation fails `pnpm lint`.
const core = '^packages/core/src/';
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'mm-imports-nothing-above',
      severity: 'error',
      comment: 'mm/ knows no structure above it: it imports only mm/.',
      from: { path: `${core}mm/` },
      to: { path: `${core}`, pathNot: `${core}mm/` },
    },
    {
      name: 'vfs-imports-only-mm',
      severity: 'error',
      comment: 'vfs/ reaches a filesystem only through operations tables: it imports vfs/ and mm/ only.',
      from: { path: `${core}vfs/` },
      to: { path: `${core}`, pathNot: [`${core}vfs/`, `${core}mm/`] },
    },
    {
      name: 'fs-erofs-imports-vfs-mm-erofs',
      severity: 'error',
      comment: 'fs/erofs/ builds on vfs/, mm/ and the on-disk format erofs/, nothing else of the core.',
      from: { path: `${core}fs/erofs/` },
      to: { path: `${core}`, pathNot: [`${core}fs/erofs/`, `${core}vfs/`, `${core}mm/`, `${core}erofs/`] },
    },
    {
      name: 'fs-overlay-imports-vfs-mm',
      comment:
        'fs/overlay/ stacks filesystems through vfs/ (NameiOps), as overlayfs does: it imports vfs/ and mm/ only.',
      severity: 'error',
      from: { path: `${core}fs/overlay/` },
      to: { path: `${core}`, pathNot: [`${core}fs/overlay/`, `${core}vfs/`, `${core}mm/`] },
    },
    {
      name: 'production-layers-no-debug',
      severity: 'error',
      comment: 'Planted bugs and their hooks stay out of mm/, vfs/ and fs/ (DESIGN.md).',
      from: { path: `${core}(mm|vfs|fs)/` },
      to: { path: `${core}debug/` },
    },
    {
      name: 'erofs-format-is-pure',
      severity: 'error',
      comment: 'erofs/ (the on-disk format) knows nothing of the kernel model.',
      from: { path: `${core}erofs/` },
      to: { path: `${core}(mm|vfs|fs|debug)/` },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    enhancedResolveOptions: {
      conditionNames: ['source', 'import', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs'],
    },
  },
};
