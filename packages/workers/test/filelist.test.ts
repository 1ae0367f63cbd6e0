// The readClaimed file list (filelist.ts): encoded once into shared memory, decoded by a worker to the
// same mounts and paths (UTF-8 names included), and re-encoded when a later run's files differ.
import test from 'ava';
import { encodeFileList, decodeFileList, sameSets, snapshotSets } from '../src/filelist.ts';

test('a file list decodes to the mounts and paths it was made of; a changed list is a new one', (t) => {
  const sets = [
    { mount: 3, paths: ['/a', '/dir/ünïcode-名前.txt', ''] },
    { mount: 0, paths: [] },
    { mount: 7, paths: ['/b/c'] },
  ];
  const buf = encodeFileList(sets);
  const list = decodeFileList(buf);
  t.deepEqual(list.paths, ['/a', '/dir/ünïcode-名前.txt', '', '/b/c']);
  t.deepEqual([...list.mounts], [3, 3, 3, 7]);
  t.is(decodeFileList(buf), list, 'the same list is decoded once');
  const other = decodeFileList(encodeFileList([{ mount: 1, paths: ['/x'] }]));
  t.deepEqual(other.paths, ['/x']);
  t.not(other.id, list.id);

  const snap = snapshotSets(sets);
  t.true(sameSets(snap, sets));
  sets[2].paths.push('/d');
  t.false(sameSets(snap, sets), 'a path added to an array the caller passed again');
  sets[2].paths.pop();
  sets[0].paths[1] = '/other';
  t.false(sameSets(snap, sets), 'a path changed in place');
  t.false(sameSets(snap, [{ mount: 4, paths: ['/a', '/dir/ünïcode-名前.txt', ''] }, ...snap.slice(1)]));
});
