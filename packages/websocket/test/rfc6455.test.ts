import { describe, expect, it } from 'vitest';
import { closeCode, isValidCloseCode, Opcode } from '../src/detail/rfc6455.js';

describe('rfc6455 constants', () => {
  it('has the RFC 6455 opcodes', () => {
    expect(Opcode).toEqual({ cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 });
  });

  it('has Beast close_code names', () => {
    expect(closeCode.normal).toBe(1000);
    expect(closeCode.goingAway).toBe(1001);
    expect(closeCode.protocolError).toBe(1002);
    expect(closeCode.unknownData).toBe(1003);
    expect(closeCode.badPayload).toBe(1007);
    expect(closeCode.policyError).toBe(1008);
    expect(closeCode.tooBig).toBe(1009);
    expect(closeCode.needsExtension).toBe(1010);
    expect(closeCode.internalError).toBe(1011);
    expect(closeCode.serviceRestart).toBe(1012);
    expect(closeCode.tryAgainLater).toBe(1013);
    expect(closeCode.badGateway).toBe(1014);
    expect(closeCode.none).toBe(0);
    expect(closeCode.reserved1).toBe(1004);
    expect(closeCode.noStatus).toBe(1005);
    expect(closeCode.abnormal).toBe(1006);
    expect(closeCode.reserved3).toBe(1015);
  });
});

describe('isValidCloseCode (RFC 6455 §7.4)', () => {
  it('accepts assigned and application codes', () => {
    for (const c of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    ]) {
      expect(isValidCloseCode(c), String(c)).toBe(true);
    }
  });

  it('rejects unused, reserved, never-on-the-wire and out-of-range codes', () => {
    for (const c of [
      0,
      1,
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      1100,
      2000,
      2999,
      5000,
      65535,
      -1,
      1000.5,
      Number.NaN,
    ]) {
      expect(isValidCloseCode(c), String(c)).toBe(false);
    }
  });

  it('agrees with the range definition for every 16-bit code', () => {
    for (let c = 0; c < 0x10000; c++) {
      const expected = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
      if (isValidCloseCode(c) !== expected) throw new Error(`mismatch at ${c}`);
    }
  });
});
