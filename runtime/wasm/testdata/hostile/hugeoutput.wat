;; hugeoutput: grows memory to 20 MiB + 1 page (321 pages; `unreachable` if memory.grow fails) and calls
;; set_output(0, 20 MiB): in bounds, but bigger than a 16 MiB output limit. Expected: invalid_output.
(module
  (import "sluice" "set_output" (func $set_output (param i32 i32)))
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
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    ;; 321 pages = 20 MiB (320 pages) + 1 page
    (if (i32.lt_u (memory.size) (i32.const 321))
      (then
        (if (i32.eq (memory.grow (i32.sub (i32.const 321) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    (call $set_output (i32.const 0) (i32.const 20971520))   ;; 20 MiB = 20 << 20
    (i32.const 0))
)
