;; LZ4 block decoder (the kernel's LZ4_decompress_safe / _safe_partial as EROFS calls them), the same
;; contract as lz4.ts: output bounded by [d, d1), input never read for data past s1, every match offset
;; checked against the bytes already written. The caller lays the input at the bottom of memory and the
;; output above it with at least 32 bytes of slack after each: literal runs and matches up to 64 bytes
;; (and overlapping matches of any length) are copied 16 bytes at a time, which may write up to 15
;; bytes past the current end (overwritten by what follows, or slack) and read up to 15 bytes past the
;; input's end (never used); longer ones use memory.copy. The fast path below writes up to 20 bytes
;; past the current end (a 24-byte copy of a 4-byte match), never past d1 + 32, and reads only input.
;; Assembled by scripts/lz4-wasm.ts into lz4wasm.ts (wabt); test/lz4.test.ts checks the two agree.
(module
  (memory (export "memory") 1)
  ;; dec(s, s1, d, d1, partial) -> bytes written, or -1 (input overrun), -2 (bad offset), -3 (overflow)
  (func (export "dec") (param $s i32) (param $s1 i32) (param $d i32) (param $d1 i32) (param $partial i32)
    (result i32)
    (local $d0 i32) (local $token i32) (local $lit i32) (local $len i32) (local $off i32)
    (local $m i32) (local $e i32) (local $b i32) (local $n i32)
    (local.set $d0 (local.get $d))
    (block $done
      (loop $seq
        (br_if $done (i32.ge_u (local.get $s) (local.get $s1)))
        (local.set $token (i32.load8_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (block $match
        (block $slow
        ;; Fast path (the reference decoder's shortcut): under 15 literals, at least 18 input bytes left
        ;; and more than 32 bytes of room: 16 literal bytes copied at once (at most 14 used, all input),
        ;; and a match of under 19 bytes from 8 or more back copied as 24 (past its end: slack or
        ;; overwritten next). Neither reaches d1, so a partial decode cannot end inside it.
        (br_if $slow (i32.or (i32.ge_u (local.get $token) (i32.const 0xf0))
                             (i32.or (i32.lt_u (i32.sub (local.get $s1) (local.get $s)) (i32.const 18))
                                     (i32.le_u (i32.sub (local.get $d1) (local.get $d)) (i32.const 32)))))
        (local.set $lit (i32.shr_u (local.get $token) (i32.const 4)))
        (v128.store (local.get $d) (v128.load (local.get $s)))
        (local.set $d (i32.add (local.get $d) (local.get $lit)))
        (local.set $s (i32.add (local.get $s) (local.get $lit)))
        (local.set $off (i32.load16_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 2)))
        ;; a long match, a short period or a bad offset: the general match code below
        (br_if $match (i32.or (i32.eq (i32.and (local.get $token) (i32.const 15)) (i32.const 15))
                              (i32.or (i32.lt_u (local.get $off) (i32.const 8))
                                      (i32.gt_u (local.get $off) (i32.sub (local.get $d) (local.get $d0))))))
        (local.set $m (i32.sub (local.get $d) (local.get $off)))
        (i64.store (local.get $d) (i64.load (local.get $m)))
        (i64.store offset=8 (local.get $d) (i64.load offset=8 (local.get $m)))
        (i64.store offset=16 (local.get $d) (i64.load offset=16 (local.get $m)))
        (local.set $d (i32.add (local.get $d) (i32.add (i32.and (local.get $token) (i32.const 15)) (i32.const 4))))
        (br $seq))
        ;; literals
        (local.set $lit (i32.shr_u (local.get $token) (i32.const 4)))
        (if (i32.eq (local.get $lit) (i32.const 15))
          (then
            (loop $more
              (if (i32.ge_u (local.get $s) (local.get $s1)) (then (return (i32.const -1))))
              (local.set $b (i32.load8_u (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 1)))
              (local.set $lit (i32.add (local.get $lit) (local.get $b)))
              (br_if $more (i32.eq (local.get $b) (i32.const 255))))))
        (if (local.get $lit)
          (then
            (if (i32.gt_u (local.get $lit) (i32.sub (local.get $s1) (local.get $s)))
              (then (return (i32.const -1))))
            (local.set $n (local.get $lit))
            (if (i32.gt_u (local.get $n) (i32.sub (local.get $d1) (local.get $d)))
              (then
                (if (i32.eqz (local.get $partial)) (then (return (i32.const -3))))
                (local.set $n (i32.sub (local.get $d1) (local.get $d)))))
            (if (i32.le_u (local.get $n) (i32.const 16))
              (then
                (v128.store (local.get $d) (v128.load (local.get $s)))
                (local.set $d (i32.add (local.get $d) (local.get $n))))
            (else (if (i32.le_u (local.get $n) (i32.const 64))
              (then
                ;; 16 bytes at a time (input and output never overlap)
                (local.set $e (i32.add (local.get $d) (local.get $n)))
                (local.set $m (local.get $s))
                (loop $l16
                  (v128.store (local.get $d) (v128.load (local.get $m)))
                  (local.set $d (i32.add (local.get $d) (i32.const 16)))
                  (local.set $m (i32.add (local.get $m) (i32.const 16)))
                  (br_if $l16 (i32.lt_u (local.get $d) (local.get $e))))
                (local.set $d (local.get $e)))
              (else
                (memory.copy (local.get $d) (local.get $s) (local.get $n))
                (local.set $d (i32.add (local.get $d) (local.get $n)))))))
            (local.set $s (i32.add (local.get $s) (local.get $lit)))
            (if (i32.and (local.get $partial) (i32.eq (local.get $d) (local.get $d1)))
              (then (return (i32.sub (local.get $d) (local.get $d0)))))))
        ;; the last sequence holds literals only
        (br_if $done (i32.ge_u (local.get $s) (local.get $s1)))
        ;; match
        (if (i32.lt_u (i32.sub (local.get $s1) (local.get $s)) (i32.const 2)) (then (return (i32.const -1))))
        (local.set $off (i32.load16_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 2))))
        (if (i32.or (i32.eqz (local.get $off))
                    (i32.gt_u (local.get $off) (i32.sub (local.get $d) (local.get $d0))))
          (then (return (i32.const -2))))
        (local.set $len (i32.and (local.get $token) (i32.const 15)))
        (if (i32.eq (local.get $len) (i32.const 15))
          (then
            (loop $more2
              (if (i32.ge_u (local.get $s) (local.get $s1)) (then (return (i32.const -1))))
              (local.set $b (i32.load8_u (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 1)))
              (local.set $len (i32.add (local.get $len) (local.get $b)))
              (br_if $more2 (i32.eq (local.get $b) (i32.const 255))))))
        (local.set $len (i32.add (local.get $len) (i32.const 4)))
        (if (i32.gt_u (local.get $len) (i32.sub (local.get $d1) (local.get $d)))
          (then
            (if (i32.eqz (local.get $partial)) (then (return (i32.const -3))))
            (local.set $len (i32.sub (local.get $d1) (local.get $d)))))
        (local.set $m (i32.sub (local.get $d) (local.get $off)))
        (local.set $e (i32.add (local.get $d) (local.get $len)))
        (if (i32.lt_u (local.get $off) (i32.const 8))
          (then
            ;; period < 8: the first 8 bytes one by one, then 8 at a time from a multiple of the
            ;; period that is at least 8 back
            (local.set $b (i32.add (local.get $d) (i32.const 8)))
            (loop $c1
              (i32.store8 (local.get $d) (i32.load8_u (local.get $m)))
              (local.set $d (i32.add (local.get $d) (i32.const 1)))
              (local.set $m (i32.add (local.get $m) (i32.const 1)))
              (br_if $c1 (i32.lt_u (local.get $d) (local.get $b))))
            (local.set $n (local.get $off))
            (loop $p8
              (local.set $n (i32.add (local.get $n) (local.get $off)))
              (br_if $p8 (i32.lt_u (local.get $n) (i32.const 8))))
            (local.set $m (i32.sub (local.get $d) (local.get $n))))
          (else
            (if (i32.ge_u (local.get $off) (local.get $len))
              (then
                (if (i32.gt_u (local.get $len) (i32.const 64))
                  (then
                    (memory.copy (local.get $d) (local.get $m) (local.get $len))
                    (local.set $d (local.get $e))))))))
        ;; 8 bytes at a time (period >= 8 now): each load reads only bytes already written
        (if (i32.lt_u (local.get $d) (local.get $e))
          (then
            (loop $c8
              (i64.store (local.get $d) (i64.load (local.get $m)))
              (i64.store offset=8 (local.get $d) (i64.load offset=8 (local.get $m)))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (local.set $m (i32.add (local.get $m) (i32.const 16)))
              (br_if $c8 (i32.lt_u (local.get $d) (local.get $e))))))
        (local.set $d (local.get $e))
        (if (i32.and (local.get $partial) (i32.eq (local.get $d) (local.get $d1)))
          (then (return (i32.sub (local.get $d) (local.get $d0)))))
        (br $seq)))
    (i32.sub (local.get $d) (local.get $d0))))
