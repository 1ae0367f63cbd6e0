// classify() is the single place exit codes are decided; check each class of failure.
import test from 'ava';
import { CommanderError, InvalidArgumentError } from 'commander';
import { classify, CheckFailed, UsageError } from '../src/errors.ts';
import { ErofsError } from '../src/core.ts';

test('ErofsError and UsageError: exit 2, message only', (t) => {
  const v = classify(new ErofsError('EBADMAGIC', 'not an EROFS image', 1024), false);
  t.deepEqual(v, { exitCode: 2, message: 'not an EROFS image (at offset 1024)', stack: undefined });
  t.is(classify(new UsageError('x: No such file or directory'), false).exitCode, 2);
});

test('commander usage errors: exit 2, one line without "error:"', (t) => {
  const v = classify(
    new CommanderError(1, 'commander.unknownCommand', "error: unknown command 'lss'\n(Did you mean ls?)"),
    false,
  );
  t.is(v.exitCode, 2);
  t.is(v.message, "unknown command 'lss' (Did you mean ls?)");
  const inv = new InvalidArgumentError('must be one of 512, 1024, 2048, 4096');
  t.is(classify(inv, false).exitCode, 2);
});

test('help and version are not failures', (t) => {
  t.is(classify(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), false).exitCode, 0);
  t.is(classify(new CommanderError(0, 'commander.version', '0.1.0'), false).message, undefined);
});

test('a failed check exits 1', (t) => {
  t.is(classify(new CheckFailed('3 files differ'), false).exitCode, 1);
});

test('system errors on user paths are input errors; anything else is internal', (t) => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {
    code: 'ENOENT',
    syscall: 'open',
    path: '/x',
  });
  // strerror(3)'s words, as cat and ls say them.
  t.deepEqual(classify(enoent, false), { exitCode: 2, message: '/x: No such file or directory', stack: undefined });
  const bug = new TypeError("Cannot read properties of undefined (reading 'nid')");
  const v = classify(bug, false);
  t.is(v.exitCode, 1);
  t.is(v.message, "internal error: Cannot read properties of undefined (reading 'nid')");
  t.is(v.stack, undefined);
  t.truthy(classify(bug, true).stack);
});
