// Writes the EXIF test photo of web/tests (web/tests/windmill-exif6.jpg): a
// JPEG stored 64x48 whose EXIF Orientation is 6 ("rotate 90° clockwise to
// show"), so that a viewer, the browser's <img> and the engine's default
// decoding all show it 48x64, upright: a portrait crop of
// examples/windmills/windmill4.webp. Chromium (headless, no GPU needed)
// draws and encodes the pixels; the EXIF segment is written here.
//
//   node web/tests/make-exif-photo.mjs [OUT.jpg]
//
// The committed file came from this script; smoke.mjs checks that it still
// says what it should (stored size, orientation) before using it.

import { readFile, writeFile } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, 'windmill-exif6.jpg'));
const src = await readFile(resolve(here, '..', '..', 'examples', 'windmills', 'windmill4.webp'));

// An APP1 segment holding a big-endian TIFF header and one IFD with one
// entry: Orientation (0x0112), SHORT, 1 value.
function exifApp1(orientation) {
  const tiff = [
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // "MM", 42, IFD at 8
    0x00, 0x01, // one entry
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, orientation, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ];
  const body = [...Buffer.from('Exif\0\0', 'latin1'), ...tiff];
  const len = body.length + 2;
  return Buffer.from([0xff, 0xe1, len >> 8, len & 0xff, ...body]);
}

const { page, close } = await launch({ webgpu: false });
try {
  const jpeg = await page.evaluate(async (bytes) => {
    const bmp = await createImageBitmap(new Blob([new Uint8Array(bytes)]));
    // The upright picture: a 3:4 portrait crop of the middle, 48x64.
    const ch = bmp.height, cw = Math.round(ch * 3 / 4);
    const upright = new OffscreenCanvas(48, 64);
    upright.getContext('2d').drawImage(bmp, (bmp.width - cw) / 2, 0, cw, ch, 0, 0, 48, 64);
    // Stored 90° counter-clockwise, so that Orientation 6 turns it back.
    const stored = new OffscreenCanvas(64, 48);
    const ctx = stored.getContext('2d');
    ctx.translate(0, 48);
    ctx.rotate(-Math.PI / 2);
    ctx.drawImage(upright, 0, 0);
    const blob = await stored.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  }, Array.from(src));
  const plain = Buffer.from(jpeg);
  if (plain[0] !== 0xff || plain[1] !== 0xd8) throw new Error('not a JPEG');
  // Right after SOI (Chromium writes JFIF's APP0 first; EXIF readers accept
  // APP1 anywhere before the frame).
  const file = Buffer.concat([plain.subarray(0, 2), exifApp1(6), plain.subarray(2)]);
  await writeFile(out, file);
  console.log(`${out}: ${file.length} bytes, stored 64x48, EXIF Orientation 6 (shown 48x64)`);
} finally {
  await close();
}
