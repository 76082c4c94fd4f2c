/**
 * A hand-assembled WebAssembly module that XORs a block of its own memory with
 * a 32-bit key using 128-bit SIMD (`v128.xor`), 64 bytes per loop iteration.
 *
 * Why WebAssembly: RFC 6455 §5.3 requires every client-to-server payload byte
 * to be XORed with the masking key, so a server unmasks everything it reads.
 * Pure JS manages 4 bytes per step; SIMD does 16 and lets large messages run
 * near memcpy speed without a native addon. The module is tiny and written out
 * as bytes (no toolchain, no .wasm file to ship), and compiled synchronously.
 *
 * Text form of the module:
 *
 *   (module
 *     (memory (export "mem") 1)                ;; one 64 KiB page
 *     (func (export "mask") (param $len i32) (param $key i32)
 *       (local $i i32) (local $k v128)
 *       (local.set $k (i32x4.splat (local.get $key)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $i) (local.get $len)))
 *         (v128.store offset=0  (local.get $i) (v128.xor (v128.load offset=0  (local.get $i)) (local.get $k)))
 *         (v128.store offset=16 (local.get $i) (v128.xor (v128.load offset=16 (local.get $i)) (local.get $k)))
 *         (v128.store offset=32 (local.get $i) (v128.xor (v128.load offset=32 (local.get $i)) (local.get $k)))
 *         (v128.store offset=48 (local.get $i) (v128.xor (v128.load offset=48 (local.get $i)) (local.get $k)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *         (br 0))))
 *
 * It processes whole 64-byte blocks from address 0 until `$i >= $len`, so it
 * may touch up to 63 bytes past `$len`; callers pass lengths ≤ the page size
 * (65536, a multiple of 64) and ignore the bytes past `$len`.
 */

/** Bytes of the memory the module exposes; also the largest `len` accepted. */
export const WASM_CHUNK = 65536;

// One unrolled "load at offset, xor with $k, store at offset" step:
// local.get $i; local.get $i; v128.load align=16 offset; local.get $k; v128.xor; v128.store align=16 offset
// biome-ignore format: hand-assembled byte layout
const step = (offset: number): number[] => [
  0x20, 0x02, 0x20, 0x02, 0xfd, 0x00, 0x04, offset, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x04, offset,
];

function moduleBytes(): Uint8Array {
  // biome-ignore format: hand-assembled byte layout
  const body = [
    0x02, 0x01, 0x7f, 0x01, 0x7b, // locals: 1 × i32 ($i), 1 × v128 ($k)
    0x20, 0x01, 0xfd, 0x11, 0x21, 0x03, // local.set $k (i32x4.splat (local.get $key))
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x02, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i32.ge_u $i $len)
    ...step(0),
    ...step(16),
    ...step(32),
    ...step(48),
    0x20, 0x02, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x02, // $i += 64
    0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0; end loop; end block; end func
  ];
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const code = [0x01, ...uleb(body.length), ...body];
  // biome-ignore format: hand-assembled byte layout
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(0x01, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00]), // type: (i32 i32) -> ()
    ...section(0x03, [0x01, 0x00]), // function 0 has type 0
    ...section(0x05, [0x01, 0x00, 0x01]), // one memory, min 1 page, no max
    ...section(0x07, [
      0x02,
      0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, // "mem" -> memory 0
      0x04, 0x6d, 0x61, 0x73, 0x6b, 0x00, 0x00, // "mask" -> func 0
    ]),
    ...section(0x0a, code),
  ]);
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** The minimal slice of the WebAssembly JS API we use (the package's lib has no DOM types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

export interface WasmMasker {
  /** The module's memory; write input at offset 0, call `mask`, read back. */
  readonly mem: Uint8Array;
  /** XOR `mem[0 .. roundup(len, 64))` with the little-endian 32-bit `key`. */
  readonly mask: (len: number, key: number) => void;
}

/** Compiles the module, or returns null where WebAssembly or SIMD is unavailable. */
export function createWasmMasker(): WasmMasker | null {
  const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()), {});
    const memory = instance.exports.mem as { buffer: ArrayBuffer };
    const fn = instance.exports.mask as (len: number, key: number) => void;
    return { mem: new Uint8Array(memory.buffer), mask: fn };
  } catch {
    return null;
  }
}
