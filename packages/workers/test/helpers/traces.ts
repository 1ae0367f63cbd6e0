// Traces over the pair trees (helpers/pair-trees.ts). Every range ends where the kernel's readahead
// ends too — a whole 4-page window from a miss, a file's last page, a whole small file — so the pages
// cached by replaying them are exactly the pages they touch.

export const RANGES = [
  '/lib/big.so 0 16384', // a whole first readahead window
  '/lib/big.so 697000 10', // inside the last page
  '/lib/mid.so 8192 16384', // four pages from page 2: the window the miss asks for
  '/bin/app 86016 100', // last page; different bytes in each version
  '/lib/tiny 0 1',
  '/data/moved-v1 0 20000', // the whole file, only in version 1
  '/nowhere 0 10', // in no image
].join('\n');

/** What `strace -f -e trace=openat,read,pread64,close,lseek` prints, reading some of the same files. */
export const STRACE = String.raw`1234  execve("/bin/app", ["/bin/app"], 0x7ffd3c0 /* 20 vars */) = 0
1234  openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
1234  openat(AT_FDCWD, "/lib/big.so", O_RDONLY|O_CLOEXEC) = 3
1234  read(3, "\177ELF\2\1\1\3\0\0\0\0\0\0\0\0\3\0>\0\1\0\0\0\0\0\0\0\0\0\0\0"..., 16384) = 16384
1234  pread64(3, "\0\0\0\0\"\0\0\0,"..., 4096, 696320) = 3680
1234  close(3)                                = 0
[pid  1235] openat(AT_FDCWD, "/data/moved-v1", O_RDONLY <unfinished ...>
[pid  1234] openat(AT_FDCWD, "/nowhere", O_RDONLY) = 4
[pid  1235] <... openat resumed>) = 3
[pid  1235] read(3,  <unfinished ...>
[pid  1234] close(4) = 0
[pid  1234] openat(AT_FDCWD, "lib/tiny", O_RDONLY) = 4
[pid  1235] <... read resumed>"\x12\x34, \"quoted\")"..., 20000) = 20000
[pid  1234] read(4, "x", 4096) = 1
[pid  1234] read(4, "", 4096) = 0
[pid  1235] read(3, "", 8192) = 0
[pid  1235] close(3) = 0
--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=1236, si_uid=0, si_status=0} ---
[pid  1234] openat(AT_FDCWD, "/bin/app", O_RDONLY) = 5
[pid  1234] lseek(5, 86016, SEEK_SET) = 86016
[pid  1234] read(5, "\1\2"..., 8192) = 3994
[pid  1234] read(7, "\1\2"..., 100) = 100
[pid  1234] read(6</lib/page-plus>, "\1"..., 4097) = 4097
+++ exited with 0 +++
`;
