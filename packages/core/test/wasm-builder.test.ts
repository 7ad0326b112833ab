import { describe, expect, it } from 'vitest';
import { compile, I32, moduleBytes, op, sleb, uleb } from '../src/wasm/builder.js';

describe('the WebAssembly module builder (wasm/builder.ts)', () => {
  it('encodes LEB128 as the format reads it: unsigned for indices and sizes, signed for i32.const', () => {
    expect(uleb(63)).toEqual([0x3f]);
    expect(uleb(64)).toEqual([0x40]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]); // one byte 0x40 would read as -64
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('builds a module whose i32 constants come back as written', () => {
    const values = [0, 1, 63, 64, 127, 128, 8191, 8192, 65536, 2 ** 31 - 1, -1, -64, -65, -(2 ** 31)];
    const module = compile(moduleBytes(values.map((v, i) => ({ name: `c${i}`, params: [], locals: [], results: [I32], code: op.i32Const(v) }))));
    expect(module).not.toBeNull();
    const { exports } = new WebAssembly.Instance(module!, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });
    values.forEach((v, i) => expect((exports[`c${i}`] as () => number)()).toBe(v));
  });
});
