;; membomb: sluice_transform grows memory 16 pages (1 MiB) at a time forever, storing a byte into each
;; new block, and executes `unreachable` as soon as memory.grow returns -1. Without a memory limit it climbs
;; to the 4 GiB maximum (65536 pages) and then traps. Expected: memory_limit.
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
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    (local $old i32)
    (loop $more
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $old) (i32.const -1))
        (then (unreachable)))
      ;; touch the first byte of the new block (old size in pages * 65536)
      (i32.store8 (i32.shl (local.get $old) (i32.const 16)) (i32.const 0x42))
      (br $more))
    (i32.const 0))
)
