// Cache poisoning and the `verify` mount option. A decoy image forges, for a file of its own, the
// fingerprint of a victim file of the same size; both images are mounted in ONE domain. The expected
// bytes are the source trees' files, never our reader's output.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System, mkfs } from '@ishare/core';
import { forgeFingerprint } from '@ishare/core/stress';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';

interface Poison {
  dir: string;
  victim: Buffer; // the victim image's /f (and the twin's /f: a legitimate copy)
  forged: Buffer; // the decoy's /f, same size, fingerprint forged to claim `victim`
  other: Buffer; // /g in the victim image, not forged
}

async function poisonImages(): Promise<Poison> {
  const dir = tempDir('ishare-poison-');
  const victim = seededBytes(40_000, 21);
  const forged = seededBytes(40_000, 22);
  const other = seededBytes(9_000, 23);
  const trees: [string, [string, Buffer][]][] = [
    [
      'victim',
      [
        ['f', victim],
        ['g', other],
      ],
    ],
    ['twin', [['f', victim]]],
    ['decoy', [['f', forged]]],
  ];
  for (const [name, files] of trees) {
    mkdirSync(join(dir, name));
    for (const [p, d] of files) writeFileSync(join(dir, name, p), d);
    await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0 });
  }
  forgeFingerprint(join(dir, 'decoy.img'), forged, victim);
  return { dir, victim, forged, other };
}

function readPath(sys: System, m: number, path: string): Buffer {
  const f = sys.open(m, path);
  try {
    return sys.readAll(f);
  } finally {
    sys.close(f);
  }
}

for (const first of ['decoy', 'victim'] as const) {
  test(`without verify, a forged fingerprint in the same domain leaks bytes across images (${first} read first) — the attack mainline's trust model accepts`, async (t) => {
    const p = await poisonImages();
    const sys = System.create({ poolMiB: 16 });
    try {
      const victim = sys.mount(join(p.dir, 'victim.img'), { inodeShare: true, domainId: 'd' }).mount;
      const decoy = sys.mount(join(p.dir, 'decoy.img'), { inodeShare: true, domainId: 'd' }).mount;
      if (first === 'decoy') {
        t.true(readPath(sys, decoy, '/f').equals(p.forged), 'the decoy filled the shared pages with its own bytes');
        t.true(readPath(sys, victim, '/f').equals(p.forged), 'the victim reader is served the decoy bytes (poisoned)');
      } else {
        t.true(readPath(sys, victim, '/f').equals(p.victim));
        t.true(
          readPath(sys, decoy, '/f').equals(p.victim),
          "the decoy reader is served the victim's bytes (disclosed)",
        );
      }
      t.is(sys.stats().counters.ISHARE_VERIFY_REFUSED, 0);
    } finally {
      sys.detach();
      removeDir(p.dir);
    }
  });

  test(`with verify, the forged file is refused, counted, and nobody reads another image's bytes (${first} read first)`, async (t) => {
    const p = await poisonImages();
    const sys = System.create({ poolMiB: 16 });
    try {
      const opts = { inodeShare: true, domainId: 'd', verify: true };
      const victim = sys.mount(join(p.dir, 'victim.img'), opts).mount;
      const twin = sys.mount(join(p.dir, 'twin.img'), opts).mount;
      const decoy = sys.mount(join(p.dir, 'decoy.img'), opts).mount;
      const order = first === 'decoy' ? [decoy, victim, twin] : [victim, twin, decoy];
      for (const m of order)
        t.true(
          readPath(sys, m, '/f').equals(m === decoy ? p.forged : p.victim),
          `mount ${m} reads its own source bytes`,
        );
      t.true(readPath(sys, victim, '/g').equals(p.other));
      const c = sys.stats().counters;
      t.is(c.ISHARE_VERIFY_REFUSED, 1, 'the forged file is refused once');
      t.is(c.ISHARE_VERIFIED, 3, 'victim /f, /g and the twin /f proved their content');
      const fd = sys.open(decoy, '/f');
      t.is(fd.mapping, fd.inode, 'the forged file reads through its private page cache');
      sys.close(fd);
      // Verified files still share: the twin's read of /f was served from the victim's pages.
      const fv = sys.open(victim, '/f');
      const ft = sys.open(twin, '/f');
      t.not(fv.mapping, fv.inode);
      t.is(fv.mapping, ft.mapping, 'legitimate copies share one page cache');
      sys.close(fv);
      sys.close(ft);
    } finally {
      sys.detach();
      removeDir(p.dir);
    }
  });
}

test('verify mounts refuse again after the forged inode was evicted and filled anew', async (t) => {
  const p = await poisonImages();
  const sys = System.create({ poolMiB: 16 });
  try {
    const opts = { inodeShare: true, domainId: 'd', verify: true };
    const victim = sys.mount(join(p.dir, 'victim.img'), opts).mount;
    const decoy = sys.mount(join(p.dir, 'decoy.img'), opts).mount;
    t.true(readPath(sys, victim, '/f').equals(p.victim));
    t.true(readPath(sys, decoy, '/f').equals(p.forged));
    sys.dropCaches();
    t.true(readPath(sys, decoy, '/f').equals(p.forged));
    t.true(readPath(sys, victim, '/f').equals(p.victim));
    t.is(sys.stats().counters.ISHARE_VERIFY_REFUSED, 2, 'proof lives with the inode: a new inode is checked again');
  } finally {
    sys.detach();
    removeDir(p.dir);
  }
});

/** Bytes of `got` that are not the source's: 0 means the reader was served exactly the source tree. */
function foreignBytes(got: Buffer, source: Buffer): number {
  let n = Math.abs(got.length - source.length);
  for (let i = 0; i < Math.min(got.length, source.length); i++) if (got[i] !== source[i]) n++;
  return n;
}

// A mount without verify trusts the decoy's forged fingerprint (mainline's model); a verifying mount in
// the same domain must not meet it on a shared inode, whichever of the two reads first.
for (const first of ['decoy', 'victim'] as const) {
  test(`mixed mounts, one domain: the verifying mount never shares with a file that joined unproved (${first} read first)`, async (t) => {
    const p = await poisonImages();
    const sys = System.create({ poolMiB: 16 });
    try {
      const domain = { inodeShare: true, domainId: 'd' };
      const victim = sys.mount(join(p.dir, 'victim.img'), { ...domain, verify: true }).mount;
      const twin = sys.mount(join(p.dir, 'twin.img'), { ...domain, verify: true }).mount;
      const decoy = sys.mount(join(p.dir, 'decoy.img'), domain).mount;
      const plainTwin = sys.mount(join(p.dir, 'twin.img'), domain).mount;
      const reads: [number, Buffer][] =
        first === 'decoy'
          ? [
              [decoy, p.forged],
              [victim, p.victim],
              [plainTwin, p.forged],
              [twin, p.victim],
            ]
          : [
              [victim, p.victim],
              [twin, p.victim],
              [decoy, p.forged],
              // Among unverified mounts the decoy, read first there, poisons as mainline lets it.
              [plainTwin, p.forged],
            ];
      for (const [m, want] of reads) {
        const got = readPath(sys, m, '/f');
        if (m === victim || m === twin)
          t.is(foreignBytes(got, p.victim), 0, `verifying mount ${m}: every byte is the source tree's`);
        else t.true(got.equals(want), `unverified mount ${m}: mainline's trust, unchanged among unverified mounts`);
      }
      t.is(foreignBytes(readPath(sys, victim, '/g'), p.other), 0);
      const c = sys.stats().counters;
      t.is(c.ISHARE_VERIFY_REFUSED, 0, 'no forged file on a verifying mount: nothing to refuse');
      t.is(c.ISHARE_VERIFIED, 3, 'victim /f, /g and the verifying twin /f proved their content');
      const open = (m: number): ReturnType<System['open']> => sys.open(m, '/f');
      const [fv, ft, fd, fp] = [open(victim), open(twin), open(decoy), open(plainTwin)];
      try {
        t.not(fv.mapping, fv.inode, 'the verified file is shared');
        t.is(fv.mapping, ft.mapping, 'verified copies share one page cache');
        t.not(fd.mapping, fd.inode, 'the unverified decoy is shared too');
        t.is(fd.mapping, fp.mapping, 'unverified files of the domain share among themselves, as mainline');
        t.not(fv.mapping, fd.mapping, 'proved and unproved files of one domain never meet on a shared inode');
      } finally {
        for (const f of [fv, ft, fd, fp]) sys.close(f);
      }
    } finally {
      sys.detach();
      removeDir(p.dir);
    }
  });
}
