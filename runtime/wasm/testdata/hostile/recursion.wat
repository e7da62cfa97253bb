;; recursion: $r(n) calls $r(n+1) with no base case and no loop, so the call stack grows until the
;; host stops it. Each frame keeps a few i64 locals alive across the call so it really uses stack.
;; Expected: call_depth_exceeded.
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  ;; The input always goes at offset 1024; grow memory to hold it plus 16 spare bytes:
  ;; pages = ceil((1024 + size + 16) / 65536).
  (func (export "sluice_alloc") (param $size i32) (result i32)
    (local $pages i32)
    (local.set $pages (i32.shr_u (i32.add (local.get $size) (i32.const 66575)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.const 1024))
  (func $r (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local.set $a (i64.extend_i32_u (local.get $n)))
    (local.set $b (i64.mul (local.get $a) (i64.const 3)))
    (local.set $c (i64.add (local.get $b) (i64.const 7)))
    (local.set $d (i64.xor (local.get $c) (local.get $a)))
    ;; not a tail call: the result is combined with the locals afterwards
    (i64.add
      (call $r (i32.add (local.get $n) (i32.const 1)))
      (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d)))))
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    (drop (call $r (i32.const 0)))
    (i32.const 0))
)
