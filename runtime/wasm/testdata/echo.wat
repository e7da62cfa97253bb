;; echo: output = input; sets content type text/plain and header X-Echo-Route = meta("route")
;; (no header if the route is unknown or longer than 256 bytes).
(module
  (import "sluice" "set_output" (func $set_output (param i32 i32)))
  (import "sluice" "set_content_type" (func $set_content_type (param i32 i32)))
  (import "sluice" "set_header" (func $set_header (param i32 i32 i32 i32)))
  (import "sluice" "meta" (func $meta (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "route")
  (data (i32.const 16) "X-Echo-Route")
  (data (i32.const 32) "text/plain")
  ;; 256..511 holds the route value.
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
    (local $n i32)
    (local.set $n (call $meta (i32.const 0) (i32.const 5) (i32.const 256) (i32.const 256)))
    (if (i32.and (i32.ge_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $n) (i32.const 256)))
      (then (call $set_header (i32.const 16) (i32.const 12) (i32.const 256) (local.get $n))))
    (call $set_content_type (i32.const 32) (i32.const 10))
    (call $set_output (local.get $ptr) (local.get $len))
    (i32.const 0))
)
