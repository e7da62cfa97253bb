;; busy: output = input, after calling the host clock (sluice.now) in a loop for 500 ms, and logging
;; "busy: started" first (so a test can see the call is in flight).
(module
  (import "sluice" "set_output" (func $set_output (param i32 i32)))
  (import "sluice" "now" (func $now (result i64)))
  (import "sluice" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "busy: started")
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
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    (local $until i64)
    (call $log (i32.const 2) (i32.const 0) (i32.const 13))
    (local.set $until (i64.add (call $now) (i64.const 500000000)))
    (loop $wait
      (br_if $wait (i64.lt_s (call $now) (local.get $until))))
    (call $set_output (local.get $ptr) (local.get $len))
    (i32.const 0))
)
