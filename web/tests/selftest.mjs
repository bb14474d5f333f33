// The engine's kernel conformance cases (every WGSL kernel against its CPU
// reference, the same cases as `cargo test -p icnet-engine`) in headless
// Chromium, on whatever WebGPU adapter it offers (SwiftShader on a machine
// without a GPU).
//
//   web/build.sh && node web/tests/selftest.mjs
//
// Serves web/dist on 127.0.0.1 (a random port), opens selftest.html, waits
// for body[data-state] done | failed | error, prints the adapter and one line
// per case, saves a screenshot to web/test-results/selftest.png and exits
// non-zero unless every case passed.
//
// Environment: CHROMIUM (default /usr/bin/chromium), SELFTEST_TIMEOUT_S (how
// long the whole run may take, default 1200).

import { mkdir, stat } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, launch, waitState, text } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const dist = join(web, 'dist');
const results = join(web, 'test-results');
const timeout = Number(process.env.SELFTEST_TIMEOUT_S || 1200) * 1000;

async function main() {
  try {
    await stat(join(dist, 'selftest.html'));
  } catch (_) {
    throw new Error('web/dist has no selftest.html: run web/build.sh first');
  }
  await mkdir(results, { recursive: true });
  const site = await serve(dist);
  const { page, close } = await launch({ webgpu: true, viewport: { width: 1200, height: 900 } });
  let ok = false;
  try {
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text()}`); });
    page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));

    const t0 = Date.now();
    await page.goto(site.url + 'selftest.html');
    let state;
    try {
      state = await waitState(page, ['done', 'failed', 'error'], timeout);
    } catch (e) {
      console.error(`still running after ${timeout / 1000} s: ${await text(page, '#progress-text')}`);
      throw e;
    } finally {
      await page.screenshot({ path: join(results, 'selftest.png'), fullPage: true }).catch(() => {});
    }
    const wall = (Date.now() - t0) / 1000;
    console.log(`adapter: ${await text(page, '#adapter')}`);
    if (state === 'error') throw new Error(`the self-test could not start: ${await text(page, '#error')}`);

    const rows = await page.$$eval('#cases tbody tr', (trs) => trs.map((tr) => ({
      name: tr.dataset.case,
      passed: tr.dataset.passed === 'true',
      detail: tr.querySelector('.detail')?.textContent ?? '',
      ms: Number(tr.querySelector('.num')?.textContent ?? 0),
    })));
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) {
      console.log(`${r.passed ? 'pass' : 'FAIL'}  ${r.name.padEnd(width)}  ${String(r.ms).padStart(7)} ms  ${r.detail}`);
    }
    const failed = rows.filter((r) => !r.passed).length;
    console.log(`${await text(page, '#summary')} (page open to finish: ${wall.toFixed(1)} s)`);
    if (rows.length === 0) throw new Error('the page listed no cases');
    if (state !== 'done' || failed > 0) throw new Error(`${failed} of ${rows.length} cases failed`);
    ok = true;
  } finally {
    await close();
    await site.close();
  }
  return ok;
}

main().then(
  (ok) => { console.log(ok ? 'SELFTEST PASSED' : 'SELFTEST FAILED'); process.exitCode = ok ? 0 : 1; },
  (e) => { console.error(`SELFTEST FAILED: ${e.message}`); process.exitCode = 1; },
);
