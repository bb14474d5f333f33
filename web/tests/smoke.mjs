// Smoke test of the browser demo in headless Chromium (WebGPU on whatever
// adapter Chromium offers; SwiftShader on a machine without a GPU).
//
//   web/build.sh && node web/tests/smoke.mjs [--expect DIR] [--expect-sisms DIR]
//                                            [--expect-csa DIR] [--revisit] [--maps DIR]
//                                            [--variant V] [--weights W.safetensors]
//
// (web/test.sh runs it with --expect, --expect-sisms, --expect-csa, --weights
// and --revisit, after `icnet run` on the same photos.)
//
// Serves web/dist on 127.0.0.1 (a random port), opens the page, checks that
// its model is the ICNet trained by this project (body[data-model] =
// icnet-default) and that a single photo is refused in words, runs two photos
// of examples/windmills, web/tests/windmill-exif6.jpg (stored 64x48 with EXIF
// Orientation 6: its map, saliency map, photo and overlay must be 48x64, as
// shown) and a file that is not an image (left out with a message), waits for
// body[data-state=done], counts the result maps, checks that the page's main
// thread stayed responsive during the run (the work is in a worker), saves a
// screenshot to web/test-results/smoke.png and prints the timings. --expect
// DIR compares each map with DIR/<stem>.png, the map `icnet run` (its default
// model, the same trained ICNet) wrote for that photo (same size; within 2/255
// on 99% of the pixels); --expect-sisms DIR compares the saliency maps
// (data-sism) in the same way with DIR/<stem>.png (`icnet run --save-sisms`);
// --maps DIR writes the maps of the first run as DIR/<stem>.png.
//
// A lost device is replaced: the test destroys the device while the page is
// idle (the page must say so, open a new device without downloading anything
// and be ready again), then gives the saliency maps of the first run back,
// runs the group again and destroys the device in the middle of that run
// (during VGG16): the page must say so, run the group again on a new device,
// and its maps must be the same bytes as the first run's (and match --expect).
//
// --expect-csa DIR then switches the model selector to the training-free
// model, runs the group again (saliency maps given) and compares its maps
// with DIR/<stem>.png (`icnet run --model csa --sisms`, on the saliency maps
// of `icnet run --save-sisms`), and switches back. --weights W refuses a junk
// weights file (the model stays as it was), uploads ICNet weights W (e.g.
// from `icnet make-test-weights W`) and goes back to the trained ICNet with
// the selector; --revisit opens the page a second time and checks that the
// models come from the cache (no model byte served) and that the default
// model is back; --variant V opens the page with ?variant=V (a convolution
// variant instead of timing them). Always: the saliency selector offers the
// full U²-Net when the site has it (models/manifest.json), and picking it
// downloads models/u2net.safetensors (exactly its bytes, not at start-up)
// and compiles it, without running a photo through it (minutes per photo on
// SwiftShader); then back to U²-Netp. At the end, a lost device whose
// replacement cannot be opened (a test hook) and a browser without WebGPU
// are reported in words.
//
// Environment: CHROMIUM (default /usr/bin/chromium), SMOKE_TIMEOUT_S (the
// run's timeout, default 900).

import { readFile, mkdir, writeFile, stat } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, launch, waitState, text } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const dist = join(web, 'dist');
const root = resolve(web, '..');
const results = join(web, 'test-results');
const args = process.argv.slice(2);
const revisit = args.includes('--revisit');
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const mapsDir = opt('--maps') ? resolve(opt('--maps')) : null;
const expectDir = opt('--expect') ? resolve(opt('--expect')) : null;
const expectCsaDir = opt('--expect-csa') ? resolve(opt('--expect-csa')) : null;
const expectSismsDir = opt('--expect-sisms') ? resolve(opt('--expect-sisms')) : null;
const weights = opt('--weights') ? resolve(opt('--weights')) : null;
// Page option: ?variant=V (a convolution variant instead of timing them).
const query = new URLSearchParams();
if (opt('--variant')) query.set('variant', opt('--variant'));
const runTimeout = Number(process.env.SMOKE_TIMEOUT_S || 900) * 1000;
// The EXIF test photo (web/tests/make-exif-photo.mjs): stored 64x48,
// Orientation 6, shown 48x64.
const EXIF_PHOTO = 'windmill-exif6.jpg';
const EXIF_STORED = [64, 48];
const EXIF_SHOWN = [48, 64];
// The longest the page's main thread may stall during a run (it only
// handles messages; the worker decodes and waits for the GPU).
const MAX_STALL_MS = 2000;

// The bar for "the same map": within 2/255 for 99% of the pixels.
// Different convolution variants (the page and `icnet run` each measure
// their own adapter) sum in a different order, which moves a few pixels by
// one grey level; the same variant gives the same bytes.
const MAX_LEVELS = 2;
const MIN_FRACTION = 0.99;

function fail(msg) {
  console.error(`SMOKE FAILED: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

// Without --enable-unsafe-webgpu, Chromium on Linux offers no adapter.
async function noWebGpu(url) {
  const { page, close } = await launch({ webgpu: false });
  try {
    await page.goto(url);
    await waitState(page, ['error', 'ready'], 120_000);
    const e = await text(page, '#error');
    if (!/WebGPU/.test(e)) fail(`no WebGPU was not reported clearly: ${e}`);
    console.log(`no WebGPU reported: "${e.trim()}"`);
  } finally {
    await close();
  }
}

// The session's model (body[data-model]) and the header's words for it.
const pageModel = (page) => page.evaluate(() => [document.body.dataset.model, document.getElementById('model').textContent]);

// Picks `value` in the model selector and waits until the page has switched
// and compiled the model (`model`: the session's name for it).
async function selectModel(page, value, model) {
  const t = Date.now();
  await page.selectOption('#model-choice', value);
  await page.waitForFunction((m) => (document.body.dataset.model === m
    && ['ready', 'done'].includes(document.body.dataset.state)) || document.body.dataset.state === 'error',
  model, { timeout: 600_000, polling: 500 });
  if (await page.evaluate(() => document.body.dataset.state) === 'error') fail(`switching to ${model}: ${await text(page, '#error')}`);
  console.log(`model switched to ${model} in ${((Date.now() - t) / 1000).toFixed(1)} s: ${await text(page, '#progress-text')}`);
}

// Picks `value` in the saliency selector and waits until the page has
// switched (body[data-saliency]) and compiled it.
async function selectSaliency(page, value) {
  const t = Date.now();
  await page.selectOption('#saliency-choice', value);
  await page.waitForFunction((v) => (document.body.dataset.saliency === v
    && ['ready', 'done'].includes(document.body.dataset.state)) || document.body.dataset.state === 'error',
  value, { timeout: 600_000, polling: 500 });
  if (await page.evaluate(() => document.body.dataset.state) === 'error') fail(`switching to ${value}: ${await text(page, '#error')}`);
  console.log(`saliency model switched to ${value} in ${((Date.now() - t) / 1000).toFixed(1)} s: ${await text(page, '#progress-text')}`);
}

// Runs the photos in #photos and waits for the maps (the model that made
// them must be `model`).
async function runGroup(page, label, model) {
  const t = Date.now();
  await page.click('#run');
  await page.waitForFunction(() => document.body.dataset.state === 'running', null, { timeout: 10_000 }).catch(() => {});
  const s = await waitState(page, ['done', 'error'], runTimeout);
  if (s !== 'done') fail(`${label}: ${await text(page, '#error')}`);
  const made = await page.evaluate(() => document.getElementById('results-box').dataset.model);
  if (made !== model) fail(`${label}: the maps shown are from ${made}, not ${model}`);
  console.log(`${label}: ${((Date.now() - t) / 1000).toFixed(1)} s\n` + (await text(page, '#timings')).replace(/^/gm, '  '));
}

// A JPEG's stored size (its frame header) and EXIF Orientation (0 if none).
function jpegFacts(b) {
  let width = 0, height = 0, orientation = 0;
  for (let i = 2; i + 4 <= b.length && b[i] === 0xff;) {
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      height = b.readUInt16BE(i + 5);
      width = b.readUInt16BE(i + 7);
      break;
    }
    if (marker === 0xe1 && b.toString('latin1', i + 4, i + 10) === 'Exif\0\0') {
      const t = i + 10;
      const le = b.toString('latin1', t, t + 2) === 'II';
      const u16 = (o) => (le ? b.readUInt16LE(t + o) : b.readUInt16BE(t + o));
      const u32 = (o) => (le ? b.readUInt32LE(t + o) : b.readUInt32BE(t + o));
      const ifd = u32(4);
      for (let k = 0; k < u16(ifd); k++) {
        const e = ifd + 2 + 12 * k;
        if (u16(e) === 0x0112) orientation = u16(e + 8);
      }
    }
    i += 2 + len;
  }
  return { width, height, orientation };
}

// Measures how long the page's main thread goes without running a 50 ms
// timer, from now until stalls() (which returns {max (ms), ticks}).
const watchStalls = (page) => page.evaluate(() => {
  const w = { max: 0, ticks: 0, last: performance.now() };
  w.timer = setInterval(() => {
    const now = performance.now();
    w.max = Math.max(w.max, now - w.last);
    w.last = now;
    w.ticks++;
  }, 50);
  window.__stalls = w;
});
const stalls = (page) => page.evaluate(() => {
  const w = window.__stalls;
  clearInterval(w.timer);
  return { max: Math.max(w.max, performance.now() - w.last), ticks: w.ticks };
});

// The EXIF photo's row: its map, saliency map, photo (as the browser shows
// it) and overlay are all 48x64, the size a viewer shows.
async function checkExif(page) {
  const r = await page.evaluate(async (name) => {
    const pick = (a) => Array.from(document.querySelectorAll(`img[${a}]`)).find((i) => i.getAttribute(a) === name);
    const imgs = { map: pick('data-cosal-map'), sism: pick('data-sism'), photo: pick('data-photo') };
    const out = {};
    for (const [k, i] of Object.entries(imgs)) {
      if (!i) return { missing: k };
      await i.decode().catch(() => {});
      out[k] = [i.naturalWidth, i.naturalHeight];
    }
    const row = imgs.map.closest('figure');
    // The overlay is drawn once both images have decoded.
    for (let k = 0; k < 50; k++) {
      const c = row.querySelector('canvas');
      if (c.width !== 300 || c.height !== 150) break; // a canvas' default size
      await new Promise((ok) => setTimeout(ok, 100));
    }
    const c = row.querySelector('canvas');
    out.overlay = [c.width, c.height];
    out.caption = row.querySelector('figcaption').textContent;
    return out;
  }, EXIF_PHOTO);
  if (r.missing) fail(`${EXIF_PHOTO}: no ${r.missing} image in the results`);
  for (const k of ['map', 'sism', 'photo', 'overlay']) {
    if (r[k][0] !== EXIF_SHOWN[0] || r[k][1] !== EXIF_SHOWN[1]) {
      fail(`${EXIF_PHOTO} (stored ${EXIF_STORED.join('x')}, EXIF Orientation 6): its ${k} is ${r[k].join('x')}, not the ${EXIF_SHOWN.join('x')} a viewer shows`);
    }
  }
  if (!r.caption.includes(EXIF_SHOWN.join('x'))) fail(`${EXIF_PHOTO}: the caption says "${r.caption}"`);
  console.log(`${EXIF_PHOTO} (stored ${EXIF_STORED.join('x')}, EXIF Orientation 6): map, saliency map, photo and overlay all ${EXIF_SHOWN.join('x')}`);
}

// Compares each data-cosal-map image of the page with DIR/<stem>.png (what
// `icnet run` wrote), decoding both in the page: same size, and at most
// MAX_LEVELS apart on at least MIN_FRACTION of the pixels.
async function compareWithNative(page, dir, attr = 'data-cosal-map') {
  const names = await page.evaluate((a) => Array.from(document.querySelectorAll(`img[${a}]`), (i) => i.getAttribute(a)), attr);
  if (names.length === 0) fail('no maps to compare');
  for (const name of names) {
    const stem = name.replace(/\.[^.]*$/, '');
    let want;
    try { want = await readFile(join(dir, stem + '.png')); } catch (_) { fail(`${dir} has no ${stem}.png to compare ${name} with`); }
    const r = await page.evaluate(async ({ name, want, maxLevels, attr }) => {
      const grey = async (blob) => {
        const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        const ctx = c.getContext('2d');
        ctx.drawImage(bmp, 0, 0);
        const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
        const g = new Uint8Array(bmp.width * bmp.height);
        for (let i = 0; i < g.length; i++) g[i] = d[4 * i];
        return { w: bmp.width, h: bmp.height, g };
      };
      const img = Array.from(document.querySelectorAll(`img[${attr}]`)).find((i) => i.getAttribute(attr) === name);
      const gotBytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
      const got = await grey(new Blob([gotBytes], { type: 'image/png' }));
      const exp = await grey(new Blob([new Uint8Array(want)], { type: 'image/png' }));
      let within = 0; let maxDiff = 0; let equal = 0;
      if (got.w === exp.w && got.h === exp.h) {
        for (let i = 0; i < got.g.length; i++) {
          const d = Math.abs(got.g[i] - exp.g[i]);
          if (d <= maxLevels) within++;
          if (d === 0) equal++;
          if (d > maxDiff) maxDiff = d;
        }
      }
      const sameBytes = gotBytes.length === want.length && gotBytes.every((b, i) => b === want[i]);
      return {
        got: [got.w, got.h], want: [exp.w, exp.h], shown: [img.naturalWidth, img.naturalHeight],
        pixels: got.g.length, within, equal, maxDiff, sameBytes,
      };
    }, { name, want: Array.from(want), maxLevels: MAX_LEVELS, attr });
    if (r.got[0] !== r.want[0] || r.got[1] !== r.want[1]) fail(`${name}: the page's map is ${r.got.join('x')}, icnet run's ${r.want.join('x')}`);
    if (r.shown[0] !== r.got[0] || r.shown[1] !== r.got[1]) fail(`${name}: the <img> shows ${r.shown.join('x')}, not the map's ${r.got.join('x')}`);
    const frac = r.within / r.pixels;
    console.log(`${name}: ${r.got.join('x')}, ${(100 * r.equal / r.pixels).toFixed(3)}% of pixels equal, `
      + `${(100 * frac).toFixed(3)}% within ${MAX_LEVELS}/255, max difference ${r.maxDiff}/255`
      + (r.sameBytes ? ' (the same PNG bytes)' : ''));
    if (frac < MIN_FRACTION) fail(`${name}: only ${(100 * frac).toFixed(2)}% of pixels are within ${MAX_LEVELS}/255 of icnet run's map`);
  }
  console.log(`${attr === 'data-sism' ? 'saliency maps' : 'maps'} match icnet run (${names.length})`);
}

async function main() {
  try { await stat(join(dist, 'index.html')); } catch (_) { fail('web/dist is not built: run web/build.sh first'); }
  await mkdir(results, { recursive: true });
  const site = await serve(dist);
  const served = site.served;
  const { page, close } = await launch({ webgpu: true, viewport: { width: 1200, height: 900 } });
  const url = `${site.url}${query.size ? '?' + query : ''}`;
  try {
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text()}`); });
    page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));

    const t0 = Date.now();
    await page.goto(url);
    const s0 = await waitState(page, ['ready', 'error'], 600_000);
    const loadS = (Date.now() - t0) / 1000;
    if (s0 !== 'ready') fail(`the page did not get ready: ${await text(page, '#error')}`);
    console.log(`page ready in ${loadS.toFixed(1)} s: ${await text(page, '#progress-text')}`);
    // Each model file once: VGG16 serves both the trained ICNet and csa; the
    // full U²-Net (on_demand) only when it is picked.
    const man = JSON.parse(await readFile(join(dist, 'models', 'manifest.json'), 'utf8'));
    const files = Object.keys(man).filter((f) => !man[f].on_demand);
    const total = files.reduce((n, f) => n + man[f].bytes, 0);
    console.log(`model bytes served: ${served()} (${files.join(', ')}: ${total})`);
    if (served() !== total) fail(`the first visit was served ${served()} model bytes, not the ${total} of ${files.join(', ')} once each`);
    console.log(`adapter: ${await text(page, '#adapter')}`);
    console.log('start-up:\n' + (await text(page, '#timings')).replace(/^/gm, '  '));
    const [m0, words0] = await pageModel(page);
    if (m0 !== 'icnet-default' || !/trained by this project/.test(words0)) fail(`the default model is ${m0} (${words0}), not the trained ICNet`);
    console.log(`default model: ${words0}`);
    const sal0 = await page.evaluate(() => document.body.dataset.saliency);
    if (sal0 !== 'u2netp') fail(`the default saliency model is ${sal0}, not u2netp`);

    // One photo: refused in words, nothing computed.
    const photos = join(root, 'examples', 'windmills');
    await page.setInputFiles('#photos', [join(photos, 'windmill1.webp')]);
    await page.click('#run');
    const s1 = await waitState(page, ['error'], 10_000);
    const e1 = await text(page, '#error');
    if (s1 !== 'error' || !/two photos/.test(e1)) fail(`a single photo was not refused clearly: ${e1}`);
    console.log(`single photo refused: "${e1.trim()}"`);

    // Two photos, the EXIF photo and a file that is not an image.
    await page.click('#clear');
    const file = async (name) => ({ name, mimeType: 'image/webp', buffer: await readFile(join(photos, name)) });
    const exifBytes = await readFile(join(here, EXIF_PHOTO));
    const facts = jpegFacts(exifBytes);
    if (facts.width !== EXIF_STORED[0] || facts.height !== EXIF_STORED[1] || facts.orientation !== 6) {
      fail(`${EXIF_PHOTO} is not what the test needs (stored ${facts.width}x${facts.height}, Orientation ${facts.orientation}; `
        + 'want 64x48, 6): run node web/tests/make-exif-photo.mjs');
    }
    await page.setInputFiles('#photos', [
      await file('windmill1.webp'), await file('windmill2.webp'),
      { name: EXIF_PHOTO, mimeType: 'image/jpeg', buffer: exifBytes },
      { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a photo') },
    ]);
    await watchStalls(page);
    const t1 = Date.now();
    await page.click('#run');
    const s2 = await waitState(page, ['done', 'error'], runTimeout);
    const runS = (Date.now() - t1) / 1000;
    const stall = await stalls(page);
    await page.screenshot({ path: join(results, 'smoke.png'), fullPage: true });
    if (s2 !== 'done') fail(`the run ended in state ${s2}: ${await text(page, '#error')}`);
    const maps = await page.evaluate(() => Array.from(document.querySelectorAll('img[data-cosal-map]'), (i) => ({
      name: i.dataset.cosalMap, w: i.naturalWidth, h: i.naturalHeight, complete: i.complete,
    })));
    const problems = await text(page, '#error');
    console.log(`run: ${runS.toFixed(1)} s; maps: ${JSON.stringify(maps)}`);
    console.log(`left out, in words: "${problems.trim().replace(/\s+/g, ' ')}"`);
    if (maps.length !== 3) fail(`expected 3 maps, found ${maps.length}`);
    if (!/notes\.jpg/.test(problems)) fail('the file that is not an image was not reported');
    const made = await page.evaluate(() => [document.getElementById('results-box').dataset.model, document.getElementById('results-model').textContent]);
    if (made[0] !== 'icnet-default' || !/trained/.test(made[1])) fail(`the maps are said to come from ${made.join(': ')}, not the trained ICNet`);
    console.log(`maps made by: ${made[1]}`);
    console.log('timings:\n' + (await text(page, '#timings')).replace(/^/gm, '  '));
    console.log(`main thread during the run: longest stall ${stall.max.toFixed(0)} ms (${stall.ticks} timer ticks of 50 ms)`);
    if (stall.max > MAX_STALL_MS) fail(`the page's main thread stalled for ${stall.max.toFixed(0)} ms during the run`);
    await checkExif(page);

    if (expectDir) await compareWithNative(page, expectDir);
    if (expectSismsDir) await compareWithNative(page, expectSismsDir, 'data-sism');

    if (mapsDir) {
      await mkdir(mapsDir, { recursive: true });
      const pngs = await page.evaluate(async () => Promise.all(Array.from(document.querySelectorAll('img[data-cosal-map]'), async (i) => ({
        name: i.dataset.cosalMap, bytes: Array.from(new Uint8Array(await (await fetch(i.src)).arrayBuffer())),
      }))));
      for (const p of pngs) {
        const stem = p.name.replace(/\.[^.]*$/, '');
        await writeFile(join(mapsDir, stem + '.png'), Buffer.from(p.bytes));
      }
      console.log(`maps written to ${mapsDir}`);
    }

    // The saliency maps of the first run, given as uploads: the next runs
    // skip U²-Netp (as `icnet run --save-sisms` then `--sisms`).
    const grab = (attr) => page.evaluate(async (a) => Promise.all(Array.from(document.querySelectorAll(`img[${a}]`), async (i) => ({
      name: i.getAttribute(a), bytes: Array.from(new Uint8Array(await (await fetch(i.src)).arrayBuffer())),
    }))), attr);
    const giveSismsBack = async () => {
      const sismFiles = (await grab('data-sism')).map((p) => ({
        name: p.name.replace(/\.[^.]*$/, '') + '.png', mimeType: 'image/png', buffer: Buffer.from(p.bytes),
      }));
      await page.evaluate(() => { document.getElementById('options').open = true; });
      await page.setInputFiles('#sisms', sismFiles);
    };
    const first = await grab('data-cosal-map');

    // A device lost while the page is idle: replaced, in words, with nothing
    // downloaded; the maps shown stay.
    {
      const before = served();
      const t = Date.now();
      await page.evaluate(() => window.icnetTest.loseDevice());
      await page.waitForFunction(() => document.body.dataset.recoveries === '1' || document.body.dataset.state === 'error',
        null, { timeout: 600_000, polling: 200 });
      const [st, notice] = [await page.evaluate(() => document.body.dataset.state), await text(page, '#notice')];
      if (st !== 'done') fail(`after a device lost while idle the page is ${st}: ${await text(page, '#error')} ${notice}`);
      if (!/device was closed/i.test(notice) || !/new GPU device/.test(notice)) fail(`the replaced device was not reported clearly: "${notice}"`);
      if (served() !== before) fail(`replacing the device downloaded ${served() - before} model bytes`);
      if (await page.evaluate(() => document.querySelectorAll('img[data-cosal-map]').length) !== 3) fail('the maps shown were lost with the device');
      console.log(`device lost while idle: replaced in ${((Date.now() - t) / 1000).toFixed(1)} s: "${notice.trim()}"`);
    }

    // A device lost in the middle of a run (during VGG16, the saliency maps
    // given back): the group runs again on a new device, to the same bytes.
    {
      await giveSismsBack();
      const t = Date.now();
      await page.click('#run');
      await page.waitForFunction(() => /backbone/.test(document.getElementById('progress-text').textContent)
        || document.body.dataset.state !== 'running', null, { timeout: runTimeout, polling: 100 });
      const at = await text(page, '#progress-text');
      if (await page.evaluate(() => document.body.dataset.state) !== 'running') fail(`the second run ended before the device could be lost: ${at}`);
      await page.evaluate(() => window.icnetTest.loseDevice());
      console.log(`device destroyed during the run, at "${at.trim()}"`);
      await page.waitForFunction(() => /opening a new GPU device/.test(document.getElementById('notice').textContent)
        || document.body.dataset.state !== 'running', null, { timeout: 120_000, polling: 100 });
      const during = await text(page, '#notice');
      if (!/opening a new GPU device/.test(during)) fail(`the lost device was not reported during the run: "${during}" ${await text(page, '#error')}`);
      console.log(`said during the run: "${during.trim()}"`);
      const s = await waitState(page, ['done', 'error'], runTimeout);
      if (s !== 'done') fail(`the interrupted run ended in state ${s}: ${await text(page, '#error')}`);
      const [recoveries, reran] = await page.evaluate(() => [document.body.dataset.recoveries, document.getElementById('results-box').dataset.reran]);
      const after = await text(page, '#notice');
      if (recoveries !== '2' || reran !== '1') fail(`after the loss during the run: ${recoveries} device replacements, the group run again ${reran} times (want 2 and 1)`);
      if (!/ran again/.test(after)) fail(`the page does not say that the group ran again: "${after}"`);
      const given = await page.evaluate(() => Array.from(document.querySelectorAll('img[data-sism]'), (i) => i.title));
      if (!given.every((x) => /you gave/.test(x))) fail(`the run did not use the saliency maps given: ${given.join(', ')}`);
      console.log(`interrupted run done in ${((Date.now() - t) / 1000).toFixed(1)} s (${await text(page, '#progress-text')}): "${after.trim()}"`);
      const again = await grab('data-cosal-map');
      for (const m of first) {
        const b = again.find((x) => x.name === m.name);
        if (!b || Buffer.compare(Buffer.from(b.bytes), Buffer.from(m.bytes)) !== 0) fail(`${m.name}: the map after the new device differs from the first run's`);
      }
      console.log(`maps after the new device: the same bytes as the first run's (${first.length})`);
      if (expectDir) await compareWithNative(page, expectDir);
      await checkExif(page);
    }

    if (expectCsaDir) {
      // The training-free model on the same photos, with the saliency maps of
      // the first run given back (U²-Netp skipped; compared with `icnet run
      // --model csa --sisms` on the CLI's own saliency maps, which
      // --expect-sisms compares with the page's).
      await selectModel(page, 'csa', 'csa');
      await runGroup(page, 'training-free model (csa), saliency maps given', 'csa');
      const given = await page.evaluate(() => Array.from(document.querySelectorAll('img[data-sism]'), (i) => i.title));
      if (!given.every((t) => /you gave/.test(t))) fail(`the csa run did not use the saliency maps given: ${given.join(', ')}`);
      await compareWithNative(page, expectCsaDir);
      await selectModel(page, 'icnet-default', 'icnet-default');
    }

    if (weights) {
      // Trained ICNet weights: a file that is not one is refused in words and
      // the page stays usable; a real one switches the model, and back.
      await page.evaluate(() => { document.getElementById('options').open = true; });
      const [before] = await pageModel(page);
      await page.setInputFiles('#weights', { name: 'junk.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('junk') });
      await waitState(page, ['error'], 60_000);
      const e = await text(page, '#error');
      if (!/junk\.safetensors/.test(e)) fail(`bad weights were not reported clearly: ${e}`);
      const [after] = await pageModel(page);
      if (after !== before) fail(`bad weights changed the model from ${before} to ${after}`);
      console.log(`bad weights refused: "${e.trim()}" (model still ${after})`);
      await page.setInputFiles('#weights', weights);
      await page.waitForFunction(() => (document.body.dataset.model === 'icnet-own'
        && ['ready', 'done'].includes(document.body.dataset.state)) || document.body.dataset.state === 'error',
      null, { timeout: 600_000, polling: 500 });
      const [m, words] = await pageModel(page);
      if (m !== 'icnet-own' || !/your weights/.test(words)) fail(`ICNet weights were not taken: ${await text(page, '#error')}`);
      console.log(`ICNet weights taken: ${await text(page, '#progress-text')}`);
      await selectModel(page, 'icnet-default', 'icnet-default');
      console.log(`back to: ${await text(page, '#model')}`);
    }

    // The full U²-Net: offered, downloaded once when picked, compiled; back.
    const full = man['u2net.safetensors'];
    if (full) {
      const offered = await page.evaluate(() => {
        const o = document.querySelector('#saliency-choice option[value=u2net]');
        return o && !o.disabled;
      });
      if (!offered) fail('the saliency selector does not offer U²-Net although the site has it');
      const before = served();
      await selectSaliency(page, 'u2net');
      if (served() - before !== full.bytes) fail(`picking U²-Net served ${served() - before} model bytes, not the ${full.bytes} of u2net.safetensors`);
      await selectSaliency(page, 'u2netp');
      if (served() - before !== full.bytes) fail('going back to U²-Netp downloaded something');
    } else {
      console.log('no u2net.safetensors on the site: the U²-Net choice is not checked');
    }

    if (revisit) {
      const before = served();
      const t2 = Date.now();
      await page.reload();
      const s3 = await waitState(page, ['ready', 'error'], 600_000);
      const note = await text(page, '#progress-text');
      console.log('second visit start-up:\n' + (await text(page, '#timings')).replace(/^/gm, '  '));
      console.log(`second visit: ready in ${((Date.now() - t2) / 1000).toFixed(1)} s (${note}); model bytes served: ${served() - before}`);
      if (s3 !== 'ready') fail(`second visit: ${await text(page, '#error')}`);
      if (served() !== before || !/cache/.test(note)) fail('second visit downloaded the models again');
      const [m] = await pageModel(page);
      if (m !== 'icnet-default') fail(`second visit: the model is ${m}, not the trained ICNet`);
    }
    // A lost device whose replacement cannot be opened: an error in words.
    await page.evaluate(() => window.icnetTest.loseDevice({ failReopen: true }));
    await waitState(page, ['error'], 60_000);
    const lost = await text(page, '#error');
    if (!/device was closed/i.test(lost) || !/could not be opened/.test(lost) || !/reload the page/i.test(lost)) {
      fail(`a device that could not be replaced was not reported clearly: ${lost}`);
    }
    console.log(`device that could not be replaced, reported: "${lost.trim()}"`);

    await noWebGpu(url);
    console.log(`SMOKE OK (screenshot: ${join('web', 'test-results', 'smoke.png')})`);
  } finally {
    await close();
    await site.close();
  }
}

main().catch((e) => {
  if (!process.exitCode) console.error(`SMOKE FAILED: ${e.message}`);
  process.exitCode = 1;
});
