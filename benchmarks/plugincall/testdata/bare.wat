;; bare: the same ASCII upper-case loop as runtime/wasm/testdata/upper.wat, with no ABI around it.
;; The benchmark writes the input at offset 1024 itself, calls upper(1024, len) and reads the
;; result back from the same place. noop does nothing at all.
(module
  (memory (export "memory") 1)
  (func (export "upper") (param $ptr i32) (param $len i32)
    (local $p i32) (local $end i32) (local $c i32)
    (local.set $p (local.get $ptr))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.le_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 25))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next))))
  (func (export "noop"))
)
