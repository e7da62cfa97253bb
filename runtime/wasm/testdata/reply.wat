;; reply: a reply transform. Output = "shaped:" + input (the destination's body); if the destination answered
;; 201 (meta "response_status"), the reply's status becomes 200; header X-Shaped = the destination's
;; X-Erp-Id header (meta "response_header:X-Erp-Id"), or "none".
(module
  (import "sluice" "set_output" (func $set_output (param i32 i32)))
  (import "sluice" "set_status" (func $set_status (param i32)))
  (import "sluice" "set_header" (func $set_header (param i32 i32 i32 i32)))
  (import "sluice" "meta" (func $meta (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "response_status")
  (data (i32.const 32) "response_header:X-Erp-Id")
  (data (i32.const 64) "X-Shaped")
  (data (i32.const 80) "none")
  ;; 128..143: the status; 160..415: the header value; 1017..1023: "shaped:", just before the input at 1024.
  (data (i32.const 1017) "shaped:")
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
    (local.set $n (call $meta (i32.const 0) (i32.const 15) (i32.const 128) (i32.const 16)))
    ;; "201" = 0x32 0x30 0x31
    (if (i32.and (i32.eq (local.get $n) (i32.const 3))
                 (i32.and (i32.eq (i32.load8_u (i32.const 128)) (i32.const 0x32))
                          (i32.and (i32.eq (i32.load8_u (i32.const 129)) (i32.const 0x30))
                                   (i32.eq (i32.load8_u (i32.const 130)) (i32.const 0x31)))))
      (then (call $set_status (i32.const 200))))
    (local.set $n (call $meta (i32.const 32) (i32.const 24) (i32.const 160) (i32.const 256)))
    (if (i32.and (i32.ge_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $n) (i32.const 256)))
      (then (call $set_header (i32.const 64) (i32.const 8) (i32.const 160) (local.get $n)))
      (else (call $set_header (i32.const 64) (i32.const 8) (i32.const 80) (i32.const 4))))
    (call $set_output (i32.const 1017) (i32.add (local.get $len) (i32.const 7)))
    (i32.const 0))
)
