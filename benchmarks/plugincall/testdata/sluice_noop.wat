;; sluice_noop: Sluice ABI v1 plugin that ignores its input and succeeds with an empty output
;; (returns 0 without calling set_output). No imports.
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  ;; Same allocator as the runtime/wasm fixtures: the input goes at offset 1024,
  ;; memory grows to hold it plus 16 spare bytes; 0 if it cannot.
  (func (export "sluice_alloc") (param $size i32) (result i32)
    (local $pages i32)
    (local.set $pages (i32.shr_u (i32.add (local.get $size) (i32.const 66575)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.const 1024))
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    (i32.const 0))
)
