import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { HttpError } from '../../src/lib/errors.js';
import { charsetOf, decodeCharset, decodeContentEncoding, firstInvalidUtf8, parseJson } from '../../src/shared/request-body.js';

function refused(fn: () => unknown, status: number, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HttpError, `an HttpError, got ${String(err)}`);
    assert.equal(err.statusCode, status, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('request body: first invalid UTF-8 byte', () => {
  const cases: Array<[string, number[], number]> = [
    ['ASCII', [0x61, 0x62], -1],
    ['2-, 3- and 4-byte forms', [...Buffer.from('é€🚀', 'utf8')], -1],
    ['latin-1 é at the end (a cut sequence)', [0x63, 0x61, 0x66, 0xe9], 3],
    ['latin-1 é before ASCII', [0x63, 0xe9, 0x20, 0x61], 1],
    ['a stray continuation byte', [0x61, 0x80], 1],
    ['overlong "/" (C0 AF)', [0x61, 0x61, 0xc0, 0xaf], 2],
    ['overlong 3-byte (E0 80 AF)', [0xe0, 0x80, 0xaf], 0],
    ['a surrogate (ED A0 80)', [0x61, 0xed, 0xa0, 0x80], 1],
    ['above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80], 0],
    ['F5 never appears', [0xf5, 0x80, 0x80, 0x80], 0],
    ['a bad third byte after a good start', [0x61, 0xe2, 0x82, 0x41], 1],
  ];
  for (const [name, bytes, at] of cases) {
    test(`${name} → ${at}`, () => assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), at));
  }

  test('agrees with a fatal TextDecoder on random bytes: -1 exactly when valid, else the prefix before it is valid', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array) => {
      try {
        fatal.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    for (let n = 0; n < 3000; n++) {
      // Mostly high bytes, so that valid multi-byte sequences and each kind of error occur.
      const b = Uint8Array.from(randomBytes(1 + (n % 12)), (x) => (x & 1 ? 0x80 | x : x % 5 === 0 ? x & 0x7f : 0xc0 | x));
      const at = firstInvalidUtf8(b);
      assert.equal(at === -1, valid(b), Buffer.from(b).toString('hex'));
      if (at >= 0) assert.ok(valid(b.subarray(0, at)), `prefix before ${at} of ${Buffer.from(b).toString('hex')}`);
    }
  });
});

describe('request body: charset', () => {
  test('the charset parameter is found in any case, quoted or not', () => {
    assert.equal(charsetOf('text/plain; charset=iso-8859-1'), 'iso-8859-1');
    assert.equal(charsetOf('text/plain;CHARSET="UTF-16LE"'), 'UTF-16LE');
    assert.equal(charsetOf('text/plain; format=flowed; charset = koi8-r'), 'koi8-r');
    assert.equal(charsetOf('text/plain'), undefined);
    assert.equal(charsetOf(undefined), undefined);
  });

  test('latin-1, windows-1252, koi8-r and utf-16le bodies are decoded to the text sent', () => {
    assert.equal(decodeCharset(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'text/plain; charset=iso-8859-1', true), 'café');
    // By the WHATWG table, which iso-8859-1 and latin1 also name (Node's own decoder gives U+0080 for 0x80).
    assert.equal(decodeCharset(Buffer.from([0x80, 0x35, 0x99, 0x8a, 0x9f, 0x81]), 'text/plain; charset=windows-1252', true), '€5™ŠŸ\u0081');
    assert.equal(decodeCharset(Buffer.from([0x80, 0xe9]), 'text/plain; charset=latin1', true), '€é');
    assert.equal(decodeCharset(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), 'text/plain; charset=koi8-r', true), 'Привет');
    assert.equal(decodeCharset(Buffer.from('hé🚀', 'utf16le'), 'text/plain; charset=utf-16le', true), 'hé🚀');
  });

  test('UTF-8 is the default, and a client U+FFFD is kept (only replacements it did not send are refused)', () => {
    assert.equal(decodeCharset(Buffer.from('caf\uFFFD ok', 'utf8'), 'text/plain', true), 'caf\uFFFD ok');
  });

  test('a UTF-8 byte order mark is kept in text and dropped for JSON', () => {
    const withBom = Buffer.from('\uFEFFhi', 'utf8');
    assert.equal(decodeCharset(withBom, 'text/plain', true), '\uFEFFhi');
    assert.equal(decodeCharset(withBom, 'application/json', false), 'hi');
  });

  test('an unknown charset → 415 naming supported ones; invalid bytes → 400 (UTF-8 with the offset)', () => {
    refused(() => decodeCharset(Buffer.from('x'), 'text/plain; charset=x-martian', true), 415, /unsupported charset "x-martian".*utf-8.*iso-8859-1/);
    // WHATWG maps these labels to a decoder that only ever yields U+FFFD.
    refused(() => decodeCharset(Buffer.from('x'), 'text/plain; charset=iso-2022-kr', true), 415, /unsupported charset/);
    refused(() => decodeCharset(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'text/plain', true), 400, /not valid UTF-8: byte 0xe9 at offset 3/);
    refused(() => decodeCharset(Buffer.from([0x61, 0x62, 0x63]), 'text/plain; charset=utf-16le', true), 400, /not valid utf-16le/);
  });
});

describe('request body: content encoding', () => {
  const text = Buffer.from('{"msg":"zip"}');
  test('gzip, deflate, br, x-gzip, identity and a list of two are undone', () => {
    assert.deepEqual(decodeContentEncoding(gzipSync(text), 'gzip', 1000), text);
    assert.deepEqual(decodeContentEncoding(gzipSync(text), 'X-GZIP', 1000), text);
    assert.deepEqual(decodeContentEncoding(deflateSync(text), 'deflate', 1000), text);
    assert.deepEqual(decodeContentEncoding(brotliCompressSync(text), 'br', 1000), text);
    assert.deepEqual(decodeContentEncoding(text, 'identity', 1000), text);
    assert.deepEqual(decodeContentEncoding(brotliCompressSync(gzipSync(text)), 'gzip, br', 1000), text);
  });
  test('an unknown coding → 415 naming the supported; bad data → 400; a decoded size over the limit → 413', () => {
    refused(() => decodeContentEncoding(text, 'zstd', 1000), 415, /"zstd".*identity, gzip, deflate, br/);
    refused(() => decodeContentEncoding(gzipSync(text), 'gzip, compress', 1000), 415, /"compress"/);
    refused(() => decodeContentEncoding(text, 'gzip', 1000), 400, /not valid gzip/);
    refused(() => decodeContentEncoding(gzipSync(Buffer.alloc(5000)), 'gzip', 1000), 413, /limit of 1000 bytes once decoded/);
  });
});

describe('request body: JSON', () => {
  test('a syntax error says what is wrong and nothing about __proto__', () => {
    refused(() => parseJson('{"msg": "unterminated'), 400, /^invalid JSON body: /);
    assert.throws(() => parseJson('{"msg": x}'), (e: Error) => !/__proto__|constructor/.test(e.message));
  });
  test('__proto__ anywhere, or constructor.prototype, is refused and named', () => {
    refused(() => parseJson('{"msg":"hi","__proto__":{"admin":true}}'), 400, /"__proto__" key/);
    refused(() => parseJson('{"a":[{"\\u005f_proto__":1}]}'), 400, /"__proto__" key/);
    refused(() => parseJson('{"constructor":{"prototype":{"x":1}}}'), 400, /"constructor" key/);
  });
  test('the words as values, or a plain constructor key, are fine', () => {
    assert.deepEqual(parseJson('{"msg":"__proto__ constructor"}'), { msg: '__proto__ constructor' });
    assert.deepEqual(parseJson('{"msg":"x","constructor":1}'), { msg: 'x', constructor: 1 });
  });
});

describe('request body: JSON text must be well-formed Unicode', () => {
  for (const [name, text, says] of [
    ['a lone high surrogate in a value', '{"msg":"\\ud800x"}', /the field "msg" holds a lone surrogate \(\\ud800 at character 0\)/],
    ['a lone low surrogate', '{"msg":"ab\\uDC00"}', /\\udc00 at character 2/],
    ['a reversed pair', '{"msg":"\\udc00\\ud800"}', /\\udc00 at character 0/],
    ['nested', '{"a":{"b":["ok","\\ud83d"]}}', /the field "a\.b\[1\]"/],
    ['in a key', '{"\\ud800":1}', /a key in the body/],
    ['a string body', '"\\ud800"', /the body holds/],
  ] as const) {
    test(`${name} → 400`, () => refused(() => parseJson(text), 400, says));
  }

  test('escaped pairs, and astral characters written as they are, parse', () => {
    assert.deepEqual(parseJson('{"msg":"\\ud83d\\ude80 🚀 \\u00e9"}'), { msg: '🚀 🚀 é' });
  });
});
