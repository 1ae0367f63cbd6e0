// Writes a planned layout: directory and symlink blocks, the shared xattr area, the metadata area
// (inodes, xattr bodies, inline tails) and last the superblock that points at all of it.
import { ErofsError } from '../errors.ts';
import { EROFS_SUPER_OFFSET } from '../format.ts';
import { writeDirBlock } from './dirent.ts';
import { ibodyIcount, writeEntry, writeIbody } from './xattr.ts';
import { inodeSize, writeInode } from './inode.ts';
import type { ImagePlan, InodePlan } from './layout.ts';
import type { MkfsConfig } from './options.ts';
import type { ImageSink } from './sink.ts';
import { encodeSuperblock } from './superblock.ts';
import { chunkTableSpan, deviceTableSlot, prefixTable } from './layout.ts';
import { DATALAYOUT } from '../format.ts';

/** A directory's bytes: every block, the last one cut to its used length. */
function encodeDir(p: InodePlan, plan: ImagePlan): Buffer {
  const bs = plan.blockSize;
  const ents = p.dirents!;
  const blocks = p.dirBlocks!.blocks;
  const nids = ents.map((e) => {
    const target = plan.byNode.get(e.node);
    if (!target) throw new ErofsError('EIO', 'internal: directory entry without an inode');
    return target.nid;
  });
  const buf = Buffer.alloc(blocks.length * bs);
  blocks.forEach((b, i) => writeDirBlock(buf, i * bs, ents, nids, b.start, b.end));
  return buf.subarray(0, p.size);
}

/** The bytes of an inode's data that do not live in the file data area (dirs and symlinks). */
function lateData(p: InodePlan, plan: ImagePlan): Buffer | undefined {
  if (p.node.kind === 'dir') return encodeDir(p, plan);
  if (p.node.kind === 'symlink') return p.node.target!;
  return undefined;
}

export async function writeImage(plan: ImagePlan, cfg: MkfsConfig, sink: ImageSink): Promise<void> {
  const bs = plan.blockSize;
  await sink.flush();
  const metaStart = plan.metaBlkaddr * bs;
  const meta = Buffer.alloc(plan.metaBlocks * bs);

  for (const p of plan.inodes) {
    const data = lateData(p, plan);
    if (data && p.lateBlocks > 0) {
      const body = Buffer.alloc(p.lateBlocks * bs);
      data.copy(body, 0, 0, Math.min(data.length, body.length));
      await sink.writeAt(p.u * bs, body);
    }
    const at = p.pos - metaStart;
    writeInode(meta, at, {
      compact: p.compact,
      layout: p.layout,
      xattrIcount: ibodyIcount(p.ibody),
      mode: p.mode,
      nlink: p.nlink,
      size: p.size,
      u: p.u,
      ino: p.ino,
      uid: p.node.uid,
      gid: p.node.gid,
      mtime: p.mtime.sec,
      mtimeNsec: p.mtime.nsec,
    });
    const afterInode = at + inodeSize(p.compact);
    const afterXattrs = writeIbody(meta, afterInode, p.sharedIds, p.inlineXattrs);
    if (afterXattrs - afterInode !== p.ibody) throw new ErofsError('EIO', 'internal: xattr body size mismatch');
    if (p.chunkTable !== undefined) {
      p.chunkTable.copy(meta, afterXattrs + chunkTableSpan(p) - p.chunkTable.length);
    }
    if (p.tailLen > 0) {
      const tail = p.node.kind === 'file' ? p.node.data!.tail! : data!.subarray(data!.length - p.tailLen);
      tail.copy(meta, afterXattrs);
    }
  }

  if (plan.sharedBytes > 0) {
    const shared = Buffer.alloc(Math.ceil(plan.sharedBytes / bs) * bs);
    let pos = 0;
    for (const x of plan.sharedXattrs) pos = writeEntry(shared, pos, x);
    await sink.writeAt(plan.xattrBlkaddr * bs, shared);
  }
  await sink.writeAt(metaStart, meta);

  await sink.writeAt(
    EROFS_SUPER_OFFSET,
    encodeSuperblock({
      blkszbits: cfg.blkszbits,
      rootNid: plan.rootNid,
      inos: plan.inodes.length,
      epoch: plan.buildTime.sec,
      fixedNsec: plan.buildTime.nsec,
      blocks: plan.blocks,
      metaBlkaddr: plan.metaBlkaddr,
      xattrBlkaddr: plan.xattrBlkaddr,
      uuid: cfg.uuid,
      fingerprints: cfg.fingerprint,
      prefixTable: prefixTable(cfg),
      chunked: plan.inodes.some((p) => p.layout === DATALAYOUT.CHUNK_BASED),
      devices: cfg.devices,
      devtSlotoff: deviceTableSlot(cfg),
    }),
  );
}
