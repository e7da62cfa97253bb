;; slow: sluice_transform calls the host (sluice.now) in an endless loop: metered work that only a wall-clock
;; timeout stops when the fuel budget is large. (A guest that never calls the host is stopped by its fuel.)
(module
  (import "sluice" "now" (func $now (result i64)))
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_alloc") (param $size i32) (result i32) (i32.const 1024))
  (func (export "sluice_transform") (param $ptr i32) (param $len i32) (result i32)
    (loop $forever (drop (call $now)) (br $forever))
    (i32.const 0))
)
