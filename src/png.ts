// A small PNG encoder for attentionHeatmap's image panels and colour bars, with no dependency and no
// DOM: pixels are palette indices, width × height row-major.
//
// Layout (PNG, ISO/IEC 15948): signature, IHDR, [PLTE], IDAT, IEND; each chunk is length (u32 BE),
// type, data, CRC-32 of type + data. A palette of ≤ 256 colours gives colour type 3 (one byte a
// pixel, PLTE holds the colours); more colours give colour type 2 (RGB, three bytes a pixel). Bit
// depth 8, no interlace, filter type 0 on every scanline.
// IDAT is a zlib stream (RFC 1950: CMF 0x78, FLG 0x01, then Adler-32 of the raw data, BE) of stored
// deflate blocks (RFC 1951 §3.2.4, BTYPE 00: LEN and ~LEN, u16 LE, then up to 65535 raw bytes): no
// compression, so the size is exact and known in advance: 1 + width·(1 or 3) bytes a row, plus
// 5 bytes per 65535 and ~60 bytes of headers.

/** CRC-32 (the ISO-HDLC polynomial, reflected: 0xEDB88320), table-driven. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adler-32: a = 1 + Σ bytes, b = Σ a, both mod 65521 (folded every 5552 bytes, as zlib does, so sums stay exact). */
function adler32(bytes: Uint8Array): number {
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length;) {
    const end = Math.min(bytes.length, i + 5552);
    for (; i < end; i++) { a += bytes[i]; b += a; }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Parses "#rrggbb". */
function rgbOf(color: string): [number, number, number] {
  const n = parseInt(color.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * A PNG of `width × height` pixels, pixel (x, y) = palette[indices[y·width + x]] ("#rrggbb" colours).
 * The caller guarantees width, height ≥ 1, indices.length = width·height, every index < palette.length.
 */
export function encodePng(width: number, height: number, indices: ArrayLike<number>, palette: readonly string[]): Uint8Array {
  const indexed = palette.length <= 256;
  const bpp = indexed ? 1 : 3;
  const rgb = palette.map(rgbOf);
  // 1. raw scanlines: a filter byte (0) and the pixels
  const stride = 1 + width * bpp;
  const raw = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    let o = y * stride + 1;
    for (let x = 0; x < width; x++) {
      const p = indices[y * width + x];
      if (indexed) raw[o++] = p;
      else { const c = rgb[p]; raw[o++] = c[0]; raw[o++] = c[1]; raw[o++] = c[2]; }
    }
  }
  // 2. zlib stream of stored blocks
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const z = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  z[0] = 0x78; z[1] = 0x01;   // deflate, 32 KiB window; (0x78·256 + 0x01) % 31 = 0
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535, len = Math.min(65535, raw.length - start);
    z[o++] = b === blocks - 1 ? 1 : 0;   // BFINAL, BTYPE = 00
    z[o++] = len & 255; z[o++] = len >>> 8;
    z[o++] = ~len & 255; z[o++] = (~len >>> 8) & 255;
    z.set(raw.subarray(start, start + len), o);
    o += len;
  }
  const adler = adler32(raw);
  z[o++] = adler >>> 24; z[o++] = (adler >>> 16) & 255; z[o++] = (adler >>> 8) & 255; z[o++] = adler & 255;
  // 3. chunks
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;                   // bit depth
  ihdr[9] = indexed ? 3 : 2;     // colour type: palette or RGB
  // compression 0, filter 0, interlace 0
  const chunks: [string, Uint8Array][] = [["IHDR", ihdr]];
  if (indexed) chunks.push(["PLTE", Uint8Array.from(rgb.flat())]);
  chunks.push(["IDAT", z], ["IEND", new Uint8Array(0)]);
  const total = 8 + chunks.reduce((n, [, d]) => n + 12 + d.length, 0);
  const png = new Uint8Array(total);
  png.set([137, 80, 78, 71, 13, 10, 26, 10]);
  const out = new DataView(png.buffer);
  let p = 8;
  for (const [type, data] of chunks) {
    out.setUint32(p, data.length);
    for (let i = 0; i < 4; i++) png[p + 4 + i] = type.charCodeAt(i);
    png.set(data, p + 8);
    out.setUint32(p + 8 + data.length, crc32(png, p + 4, p + 8 + data.length));
    p += 12 + data.length;
  }
  return png;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** RFC 4648 base64 with padding (no atob/btoa/Buffer: the same in every runtime). */
export function base64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64[n >>> 18] + B64[(n >>> 12) & 63] + (i + 1 < bytes.length ? B64[(n >>> 6) & 63] : "=") + (i + 2 < bytes.length ? B64[n & 63] : "=");
    if (s.length >= 8192) { parts.push(s); s = ""; }
  }
  parts.push(s);
  return parts.join("");
}
