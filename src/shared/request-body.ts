import { isUtf8 } from 'node:buffer';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { HttpError } from '../lib/errors.js';
import { excerpt, quotedExcerpt } from '../lib/excerpt.js';

/** Content codings a request body may arrive in; each is undone before the body is read. */
export const SUPPORTED_ENCODINGS = ['identity', 'gzip', 'deflate', 'br'] as const;

const DECODERS: Record<string, (b: Buffer, o: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * Undoes the Content-Encoding of a body. The decoded size is held to `limit`
 * as well (the raw size already is), so a small compressed body cannot grow
 * into a large one in memory.
 */
export function decodeContentEncoding(body: Buffer, header: string | undefined, limit: number): Buffer {
  if (header === undefined) return body;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  // All refused before any work is done.
  for (const c of codings) {
    if (!DECODERS[c]) throw new HttpError(415, `unsupported content encoding ${quotedExcerpt(c)}; send the body as ${SUPPORTED_ENCODINGS.join(', ')}`);
  }
  let out = body;
  // Codings are listed in the order they were applied: undone from the last.
  for (const c of codings.reverse()) {
    try {
      out = DECODERS[c]!(out, { maxOutputLength: limit });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new HttpError(413, `request body is larger than the limit of ${limit} bytes once decoded (${c})`);
      throw new HttpError(400, `request body is not valid ${c} data (${(err as Error).message})`);
    }
  }
  return out;
}

/** The charset parameter of a Content-Type header, unquoted, if there is one. */
export function charsetOf(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = param.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

const CHARSET_EXAMPLES = 'utf-8, iso-8859-1 (latin1), windows-1252, iso-8859-2, koi8-r, shift_jis, gbk, utf-16le or utf-16be';

/**
 * Decodes a body by the charset its Content-Type names (UTF-8 when it names
 * none). Bytes that are not valid in that charset are refused, never replaced
 * with U+FFFD: what is stored is only what the client sent.
 *
 * `keepBom`: a UTF-8 byte order mark is kept as text (a text/plain body
 * round-trips byte for byte); for other charsets the mark only says the byte
 * order and is dropped, as it is for JSON, which cannot start with one.
 */
export function decodeCharset(body: Buffer, contentType: string | undefined, keepBom: boolean): string {
  const label = charsetOf(contentType) ?? 'utf-8';
  let encoding: string;
  try {
    encoding = new TextDecoder(label).encoding;
  } catch {
    throw new HttpError(415, `unsupported charset ${quotedExcerpt(label)}; send one of ${CHARSET_EXAMPLES} (any WHATWG encoding label)`);
  }
  if (encoding === 'utf-8') {
    // isUtf8 is the fast check; the scan for the offset runs only on failure.
    if (!isUtf8(body)) {
      const at = firstInvalidUtf8(body);
      throw new HttpError(400, `request body is not valid UTF-8: byte 0x${body[at]!.toString(16).padStart(2, '0')} at offset ${at} does not begin a valid sequence; send UTF-8 or name the charset in Content-Type`);
    }
  }
  if (encoding === 'windows-1252') return decodeWindows1252(body);
  try {
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: keepBom && encoding === 'utf-8' }).decode(body);
  } catch {
    throw new HttpError(400, `request body is not valid ${encoding}`);
  }
}

// Node 20's TextDecoder decodes windows-1252 (and so iso-8859-1 and latin1,
// which WHATWG maps to it) as plain ISO-8859-1: 0x80 comes out as U+0080, not
// "€". Bytes 0x80–0x9F are therefore mapped here, by the WHATWG table.
const W1252 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function decodeWindows1252(body: Buffer): string {
  return body.toString('latin1').replace(/[\x80-\x9f]/g, (c) => W1252[c.charCodeAt(0) - 0x80]!);
}

/**
 * Offset of the first byte that begins an ill-formed UTF-8 sequence (a stray
 * continuation byte, an overlong or surrogate form, a sequence cut short), or
 * -1 when all of `b` is valid. Follows the well-formed table of Unicode §3.9.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) more = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      more = 2;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      more = 3;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= more; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += more + 1;
  }
  return -1;
}

/**
 * JSON.parse, with the keys that could reach an object's prototype when the
 * body is later merged refused: `__proto__`, and `constructor` holding a
 * `prototype` (what Fastify's own parser refuses).
 */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${excerpt((err as Error).message, 200)}`);
  }
  // A key can only be one of these if its name, or an escape (\u…), is in the text.
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) {
    const bad = forbiddenKey(value);
    if (bad) throw new HttpError(400, `JSON body has a "${bad}" key, which is refused`);
  }
  // Bytes are decoded strictly, so a lone surrogate can only come from an escape (\ud800).
  if (text.includes('\\u')) {
    const lone = loneSurrogate(value);
    if (lone) {
      throw new HttpError(
        400,
        `request body is not valid Unicode text: ${/^(the body|a key)/.test(lone.where) ? lone.where : `the field ${JSON.stringify(lone.where)}`} holds a lone surrogate (\\u${lone.unit.toString(16)} at character ${lone.at}); a surrogate escape must be one of a pair`,
      );
    }
  }
  return value;
}

// In a `u` regex a surrogate range matches only a surrogate that is not part of a pair.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** The first string (value or key) holding a lone surrogate: where it is, the code unit and its index. */
function loneSurrogate(root: unknown): { where: string; unit: number; at: number } | undefined {
  const stack: Array<[unknown, string]> = [[root, 'the body']];
  const check = (s: string, where: string) => {
    const m = LONE_SURROGATE.exec(s);
    return m ? { where, unit: s.charCodeAt(m.index), at: m.index } : undefined;
  };
  while (stack.length > 0) {
    const [node, where] = stack.pop()!;
    if (typeof node === 'string') {
      const found = check(node, where);
      if (found) return found;
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      node.forEach((v: unknown, i) => stack.push([v, `${where === 'the body' ? '' : where}[${i}]`]));
      continue;
    }
    for (const key of Object.keys(node)) {
      const name = where === 'the body' ? key : `${where}.${key}`;
      const inKey = check(key, `a key in ${where === 'the body' ? 'the body' : where}`);
      if (inKey) return inKey;
      stack.push([(node as Record<string, unknown>)[key], excerpt(name, 64)]);
    }
  }
  return undefined;
}

function forbiddenKey(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
      continue;
    }
    for (const key of Object.keys(node)) {
      const v = (node as Record<string, unknown>)[key];
      if (key === '__proto__') return key;
      if (key === 'constructor' && typeof v === 'object' && v !== null && Object.hasOwn(v, 'prototype')) return key;
      stack.push(v);
    }
  }
  return undefined;
}
