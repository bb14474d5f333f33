// Shared by the browser tests (smoke.mjs, selftest.mjs): a static server for
// web/dist, headless Chromium with or without WebGPU, and page helpers.
//
// Environment: CHROMIUM (default /usr/bin/chromium).

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, extname, resolve, sep } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '': 'text/plain; charset=utf-8',
};

// Serves the folder `dist` on 127.0.0.1 at a free port. Resolves to
// {server, port, url, served, close}: url is the site's root with a trailing
// slash, served() the bytes of .safetensors files sent so far (models).
export function serve(dist) {
  const root = resolve(dist);
  let modelBytes = 0;
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = join(root, path.endsWith('/') ? path + 'index.html' : path);
    if (file !== root && !file.startsWith(root + sep)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      if (path.endsWith('.safetensors')) modelBytes += body.length;
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
    } catch (_) {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      ok({
        server, port, url: `http://127.0.0.1:${port}/`,
        served: () => modelBytes,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

// Headless Chromium with a fresh profile; with webgpu, WebGPU is enabled
// (on a machine without a GPU, Chromium offers SwiftShader). Resolves to
// {browser, page, close}: browser is the persistent context, page its first
// page, close() closes it and deletes the profile.
export async function launch({ webgpu = true, viewport = null } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'icnet-browser-'));
  const args = ['--no-sandbox', '--disable-gpu-sandbox'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  args.push('--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync');
  let browser;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args,
      ...(viewport ? { viewport } : {}),
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = browser.pages()[0] ?? await browser.newPage();
  const close = async () => {
    try { await browser.close(); } finally { rmSync(profile, { recursive: true, force: true }); }
  };
  return { browser, page, close };
}

// Waits until document.body.dataset.state is one of `states`; returns it.
export async function waitState(page, states, timeout) {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout, polling: 500 });
  return page.evaluate(() => document.body.dataset.state);
}

// The visible text of the first element matching `sel` ('' if none).
export const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.innerText ?? '', sel);
