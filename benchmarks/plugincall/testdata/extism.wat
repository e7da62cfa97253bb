;; extism: an Extism plugin (kernel ABI of go-sdk v1.7.1, runtime kernel v1.7.0) with two exports.
;;
;;   upper  output = input with ASCII a-z upper-cased. It moves bytes the way the Extism PDKs do:
;;          input_load_u64 per 8 bytes (input_load_u8 for the tail) into its own memory at 1024,
;;          the same upper-case loop as runtime/wasm/testdata/upper.wat, then alloc a block in
;;          the kernel's memory, store_u64 per 8 bytes (store_u8 for the tail) and output_set.
;;   noop   ignores the input, sets no output, returns 0.
;;
;; Imports from "extism:host/env" (signatures from go-sdk host.go / extism-runtime.wasm):
;;   input_length () -> i64            input_load_u64 (i64) -> i64     input_load_u8 (i64) -> i32
;;   alloc (i64) -> i64                store_u64 (i64, i64)            store_u8 (i64, i32)
;;   output_set (i64, i64)
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  (func (export "upper") (result i32)
    (local $len i64) (local $n8 i64) (local $i i64) (local $out i64) (local $pages i32)
    (local $p i32) (local $end i32) (local $c i32)
    (local.set $len (call $input_length))
    ;; grow own memory to hold 1024 + len bytes
    (local.set $pages (i32.wrap_i64 (i64.shr_u (i64.add (local.get $len) (i64.const 66559)) (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 1))))))
    (local.set $n8 (i64.and (local.get $len) (i64.const -8)))
    ;; load the input: 8 bytes at a time, then the tail byte by byte
    (local.set $i (i64.const 0))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n8)))
        (i64.store (i32.add (i32.const 1024) (i32.wrap_i64 (local.get $i))) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $next)))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (i32.const 1024) (i32.wrap_i64 (local.get $i))) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    ;; upper-case in place: the same loop as upper.wat
    (local.set $p (i32.const 1024))
    (local.set $end (i32.add (i32.const 1024) (i32.wrap_i64 (local.get $len))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.le_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 25))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    ;; copy out into a kernel block and make it the output
    (local.set $out (call $alloc (local.get $len)))
    (if (i64.eqz (local.get $out)) (then (return (i32.const 1))))
    (local.set $i (i64.const 0))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n8)))
        (call $store_u64 (i64.add (local.get $out) (local.get $i))
          (i64.load (i32.add (i32.const 1024) (i32.wrap_i64 (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $next)))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8 (i64.add (local.get $out) (local.get $i))
          (i32.load8_u (i32.add (i32.const 1024) (i32.wrap_i64 (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (call $output_set (local.get $out) (local.get $len))
    (i32.const 0))

  (func (export "noop") (result i32) (i32.const 0))
)
