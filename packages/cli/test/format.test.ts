import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { alignColumns, devMajorMinor, formatMtime, modeString } from '../src/format.ts';
import { parseBlockSize, parseTimestamp, parseUuid } from '../src/options.ts';

test('modeString matches ls -l, including setuid/setgid/sticky', (t) => {
  t.is(modeString('file', 0o100644), '-rw-r--r--');
  t.is(modeString('dir', 0o40755), 'drwxr-xr-x');
  t.is(modeString('file', 0o104755), '-rwsr-xr-x');
  t.is(modeString('file', 0o104644), '-rwSr--r--');
  t.is(modeString('dir', 0o41777), 'drwxrwxrwt');
  t.is(modeString('file', 0o102750), '-rwxr-s---');
  t.is(modeString('symlink', 0o120777), 'lrwxrwxrwx');
  t.is(modeString('chardev', 0o20620), 'crw--w----');
});

test('devMajorMinor decodes the Linux dev_t encoding', (t) => {
  t.deepEqual(devMajorMinor((8 << 8) | 1), [8, 1]); // sda1
  t.deepEqual(devMajorMinor((1 << 8) | 3), [1, 3]); // /dev/null
  t.deepEqual(devMajorMinor((0x123 & 0xff) | (0x45 << 8) | ((0x123 >> 8) << 20)), [0x45, 0x123]);
});

test('formatMtime is UTC', (t) => {
  t.is(formatMtime(1_700_000_000), '2023-11-14 22:13');
});

test('alignColumns pads all but the last column', (t) => {
  t.deepEqual(
    alignColumns(
      [
        ['a', '1', 'x y'],
        ['bbb', '100', 'z'],
      ],
      new Set([1]),
    ),
    ['a     1 x y', 'bbb 100 z'],
  );
});

test('option parsers accept good values and reject bad ones', (t) => {
  t.is(parseBlockSize('512'), 512);
  t.is(parseBlockSize('4096'), 4096);
  for (const bad of ['3000', '0', '8192', '4k', '', '-512'])
    t.throws(() => parseBlockSize(bad), { instanceOf: InvalidArgumentError }, bad);
  t.is(parseTimestamp('0'), 0);
  t.is(parseTimestamp('1700000000'), 1_700_000_000);
  t.is(parseTimestamp('2023-11-14T22:13:20Z'), 1_700_000_000);
  t.throws(() => parseTimestamp('soon'), { instanceOf: InvalidArgumentError });
  t.is(parseUuid('01234567-89AB-cdef-0123-456789abcdef'), '01234567-89ab-cdef-0123-456789abcdef');
  t.throws(() => parseUuid('0123'), { instanceOf: InvalidArgumentError });
});
