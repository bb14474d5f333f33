// Smoke test of the browser demo in headless Chromium (WebGPU on whatever
// adapter Chromium offers; SwiftShader on a machine without a GPU).
//
//   web/build.sh && node web/tests/smoke.mjs [--revisit] [--maps DIR] [--twice]
//                                            [--variant V] [--weights W.safetensors]
//
// Serves web/dist on 127.0.0.1 (a random port), opens the page, checks that
// a single photo is refused in words, runs two photos of examples/windmills
// plus a file that is not an image (left out with a message), waits for
// body[data-state=done], counts the result maps, saves a screenshot to
// web/test-results/ and prints the timings. --revisit opens the page a
// second time and checks that the models come from the cache; --maps DIR
// writes the maps the page made as DIR/<stem>.png (compare them with what
// `icnet run` writes); --twice runs the group a second time with the saliency
// maps of the first run uploaded (U²-Netp skipped, the plan reused) and checks
// that the maps are the same bytes; --variant V opens the page with ?variant=V (a
// convolution variant instead of timing them); --weights W uploads ICNet
// weights (e.g. from `icnet make-test-weights W`), then goes back to the
// training-free model. Always: a lost device and a browser without WebGPU
// are reported in words.
//
// Environment: CHROMIUM (default /usr/bin/chromium), SMOKE_TIMEOUT_S (the
// run's timeout, default 900).

import { createServer } from 'node:http';
import { readFile, mkdir, writeFile, stat } from 'node:fs/promises';
import { join, extname, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const dist = join(web, 'dist');
const root = resolve(web, '..');
const results = join(web, 'test-results');
const args = process.argv.slice(2);
const revisit = args.includes('--revisit');
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const mapsDir = opt('--maps') ? resolve(opt('--maps')) : null;
const twice = args.includes('--twice');
const weights = opt('--weights') ? resolve(opt('--weights')) : null;
// Page option: ?variant=V (a convolution variant instead of timing them).
const query = new URLSearchParams();
if (opt('--variant')) query.set('variant', opt('--variant'));
const runTimeout = Number(process.env.SMOKE_TIMEOUT_S || 900) * 1000;

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '': 'text/plain; charset=utf-8',
};

function serve() {
  let modelBytes = 0;
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = join(dist, path.endsWith('/') ? path + 'index.html' : path);
    if (!file.startsWith(dist)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      if (path.endsWith('.safetensors')) modelBytes += body.length;
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
    } catch (_) {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: server.address().port, served: () => modelBytes })));
}

function fail(msg) {
  console.error(`SMOKE FAILED: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

async function waitState(page, states, timeout) {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout, polling: 500 });
  return page.evaluate(() => document.body.dataset.state);
}

const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.innerText ?? '', sel);

// Without --enable-unsafe-webgpu, Chromium on Linux offers no adapter.
async function noWebGpu(url) {
  const profile = mkdtempSync(join(tmpdir(), 'icnet-smoke-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu-sandbox', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = browser.pages()[0] ?? await browser.newPage();
    await page.goto(url);
    await waitState(page, ['error', 'ready'], 120_000);
    const e = await text(page, '#error');
    if (!/WebGPU/.test(e)) fail(`no WebGPU was not reported clearly: ${e}`);
    console.log(`no WebGPU reported: "${e.trim()}"`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function main() {
  try { await stat(join(dist, 'index.html')); } catch (_) { fail('web/dist is not built: run web/build.sh first'); }
  await mkdir(results, { recursive: true });
  const { server, port, served } = await serve();
  const profile = mkdtempSync(join(tmpdir(), 'icnet-smoke-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu-sandbox', '--enable-unsafe-webgpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  const url = `http://127.0.0.1:${port}/${query.size ? '?' + query : ''}`;
  try {
    const page = browser.pages()[0] ?? await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text()}`); });
    page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));

    const t0 = Date.now();
    await page.goto(url);
    const s0 = await waitState(page, ['ready', 'error'], 600_000);
    const loadS = (Date.now() - t0) / 1000;
    if (s0 !== 'ready') fail(`the page did not get ready: ${await text(page, '#error')}`);
    console.log(`page ready in ${loadS.toFixed(1)} s: ${await text(page, '#progress-text')}`);
    console.log(`adapter: ${await text(page, '#adapter')}`);
    console.log('start-up:\n' + (await text(page, '#timings')).replace(/^/gm, '  '));

    // One photo: refused in words, nothing computed.
    const photos = join(root, 'examples', 'windmills');
    await page.setInputFiles('#photos', [join(photos, 'windmill1.webp')]);
    await page.click('#run');
    const s1 = await waitState(page, ['error'], 10_000);
    const e1 = await text(page, '#error');
    if (s1 !== 'error' || !/two photos/.test(e1)) fail(`a single photo was not refused clearly: ${e1}`);
    console.log(`single photo refused: "${e1.trim()}"`);

    // Two photos and a file that is not an image.
    await page.click('#clear');
    const file = async (name) => ({ name, mimeType: 'image/webp', buffer: await readFile(join(photos, name)) });
    await page.setInputFiles('#photos', [
      await file('windmill1.webp'), await file('windmill2.webp'),
      { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a photo') },
    ]);
    const t1 = Date.now();
    await page.click('#run');
    const s2 = await waitState(page, ['done', 'error'], runTimeout);
    const runS = (Date.now() - t1) / 1000;
    await page.screenshot({ path: join(results, 'smoke.png'), fullPage: true });
    if (s2 !== 'done') fail(`the run ended in state ${s2}: ${await text(page, '#error')}`);
    const maps = await page.evaluate(() => Array.from(document.querySelectorAll('img[data-cosal-map]'), (i) => ({
      name: i.dataset.cosalMap, w: i.naturalWidth, h: i.naturalHeight, complete: i.complete,
    })));
    const problems = await text(page, '#error');
    console.log(`run: ${runS.toFixed(1)} s; maps: ${JSON.stringify(maps)}`);
    console.log(`left out, in words: "${problems.trim().replace(/\s+/g, ' ')}"`);
    if (maps.length !== 2) fail(`expected 2 maps, found ${maps.length}`);
    if (!/notes\.jpg/.test(problems)) fail('the file that is not an image was not reported');
    console.log('timings:\n' + (await text(page, '#timings')).replace(/^/gm, '  '));

    if (twice) {
      // The same group again, with the saliency maps of the first run given
      // as uploads: U²-Netp is skipped, the plan is reused, and the maps must
      // be the same bytes (as `icnet run --save-sisms` then `--sisms`).
      const grab = (attr) => page.evaluate(async (a) => Promise.all(Array.from(document.querySelectorAll(`img[${a}]`), async (i) => ({
        name: i.getAttribute(a), bytes: Array.from(new Uint8Array(await (await fetch(i.src)).arrayBuffer())),
      }))), attr);
      const first = await grab('data-cosal-map');
      const sismFiles = (await grab('data-sism')).map((p) => ({
        name: p.name.replace(/\.[^.]*$/, '') + '.png', mimeType: 'image/png', buffer: Buffer.from(p.bytes),
      }));
      await page.evaluate(() => { document.getElementById('options').open = true; });
      await page.setInputFiles('#sisms', sismFiles);
      const t = Date.now();
      await page.click('#run');
      await page.waitForFunction(() => document.body.dataset.state === 'running', null, { timeout: 10_000 }).catch(() => {});
      const s = await waitState(page, ['done', 'error'], runTimeout);
      if (s !== 'done') fail(`second run: ${await text(page, '#error')}`);
      console.log(`second run (saliency maps given): ${((Date.now() - t) / 1000).toFixed(1)} s\n` + (await text(page, '#timings')).replace(/^/gm, '  '));
      const again = await grab('data-cosal-map');
      for (const m of first) {
        const b = again.find((x) => x.name === m.name);
        if (!b || Buffer.compare(Buffer.from(b.bytes), Buffer.from(m.bytes)) !== 0) fail(`${m.name}: the map changed when its saliency map was given back`);
      }
      console.log('maps identical with the saliency maps given back');
    }

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

    if (weights) {
      // Trained ICNet weights: a file that is not one is refused in words and
      // the page stays usable; a real one switches the model, and back.
      await page.evaluate(() => { document.getElementById('options').open = true; });
      await page.setInputFiles('#weights', { name: 'junk.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('junk') });
      await waitState(page, ['error'], 60_000);
      const e = await text(page, '#error');
      if (!/junk\.safetensors/.test(e)) fail(`bad weights were not reported clearly: ${e}`);
      console.log(`bad weights refused: "${e.trim()}"`);
      await page.setInputFiles('#weights', weights);
      const s = await waitState(page, ['ready', 'done', 'error'], 600_000);
      const m = await text(page, '#model');
      if (s === 'error' || !/ICNet/.test(m)) fail(`ICNet weights were not taken: ${await text(page, '#error')}`);
      console.log(`ICNet weights taken: ${await text(page, '#progress-text')}`);
      await page.click('#csa');
      await page.waitForFunction(() => /training-free/.test(document.getElementById('model').textContent)
        && ['ready', 'done'].includes(document.body.dataset.state), null, { timeout: 600_000 });
      console.log(`back to: ${await text(page, '#model')}`);
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
    }
    // A lost device: reported in words, in the page.
    await page.evaluate(() => window.icnetTest.loseDevice());
    await waitState(page, ['error'], 30_000);
    const lost = await text(page, '#error');
    if (!/reload the page/.test(lost)) fail(`a lost device was not reported clearly: ${lost}`);
    console.log(`lost device reported: "${lost.trim()}"`);

    await noWebGpu(url);
    console.log(`SMOKE OK (screenshot: ${join('web', 'test-results', 'smoke.png')})`);
  } finally {
    await browser.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  if (!process.exitCode) console.error(`SMOKE FAILED: ${e.message}`);
  process.exitCode = 1;
});
