/**
 * @internal Booleans of a class kept as bits of one number field `flags`:
 * a boolean field costs a pointer-sized slot per object (8 bytes here), a
 * bit costs nothing, which matters for objects kept per connection. Each
 * name in `bits` becomes a boolean accessor on `proto` (declare the fields
 * with `declare name: boolean` so TypeScript emits nothing for them).
 */
export function defineFlagAccessors(proto: { flags: number }, bits: Readonly<Record<string, number>>): void {
  for (const [name, bit] of Object.entries(bits)) {
    Object.defineProperty(proto, name, {
      get(this: { flags: number }): boolean {
        return (this.flags & bit) !== 0;
      },
      set(this: { flags: number }, v: boolean): void {
        this.flags = v ? this.flags | bit : this.flags & ~bit;
      },
    });
  }
}
