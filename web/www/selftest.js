// The kernel self-test page: runs the engine's kernel conformance cases
// (every WGSL kernel against its CPU reference) on this browser's WebGPU
// adapter through the wasm module's kernel_selftest.
//
// For tests: document.body.dataset.state is idle | running | done (every
// case passed) | failed (some case failed) | error (could not start; the
// message is in #error). Each case is a row <tr data-case="<name>"
// data-passed="true|false"> of #cases.

import init, { kernel_selftest, last_panic } from './pkg/icnet_web.js';

const $ = (id) => document.getElementById(id);

function setState(s) {
  document.body.dataset.state = s;
}

function progress(text, fraction) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  $('progress-fill').style.width = pct + '%';
  $('progress').setAttribute('aria-valuenow', String(pct));
  $('progress-text').textContent = text;
}

function showError(message) {
  const p = document.createElement('p');
  p.textContent = message;
  $('error').replaceChildren(p);
  $('error').hidden = false;
}

// An exception from the module, in words.
function words(e) {
  let panic = null;
  try { panic = last_panic(); } catch (_) { /* the module is not loaded */ }
  if (panic) return `Internal error (please report it): ${panic}. Reload the page to start again.`;
  return (e && e.message) ? e.message : String(e);
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
}

function showCases(report) {
  const body = $('cases').querySelector('tbody');
  body.replaceChildren();
  for (const c of report.cases) {
    const tr = document.createElement('tr');
    tr.dataset.case = c.name;
    tr.dataset.passed = String(c.passed);
    cell(tr, c.name);
    cell(tr, c.passed ? 'pass' : 'FAIL', c.passed ? 'pass' : 'fail');
    cell(tr, c.detail, 'detail');
    cell(tr, c.ms.toFixed(0), 'num');
    body.append(tr);
  }
  const n = report.passed + report.failed;
  $('summary').textContent = report.failed === 0
    ? `All ${n} cases passed in ${report.seconds.toFixed(1)} s.`
    : `${report.failed} of ${n} cases failed (${report.seconds.toFixed(1)} s).`;
  $('cases-box').hidden = false;
}

// The adapter in words, from WebGPU itself (wgpu knows little more than the
// backend in a browser); '' when there is none.
async function adapterWords() {
  try {
    const i = (await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }))?.info;
    if (!i) return '';
    const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ');
    return (name || 'unnamed adapter') + (i.isFallbackAdapter ? ' (a software fallback)' : '');
  } catch (_) { return ''; /* no WebGPU: kernel_selftest says so */ }
}

function showAdapter(words, wgpu) {
  $('adapter').textContent = words || wgpu;
  $('adapter').title = `wgpu: ${wgpu}`;
}

async function start() {
  setState('running');
  progress('loading the module', 0);
  try {
    await init();
  } catch (e) {
    throw new Error(`The page's WebAssembly module could not be loaded (${words(e)}).`);
  }
  progress('opening the GPU', 0);
  const words = await adapterWords();
  const t0 = performance.now();
  const report = await kernel_selftest((name, done, total, adapter) => {
    showAdapter(words, adapter);
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    progress(`case ${done + 1} of ${total}: ${name} (${s} s so far)`, done / total);
  });
  showAdapter(words, report.adapter);
  showCases(report);
  progress(`${report.passed + report.failed} cases run in ${report.seconds.toFixed(1)} s`, 1);
  setState(report.failed === 0 ? 'done' : 'failed');
}

start().catch((e) => {
  progress('stopped', 0);
  showError(words(e));
  setState('error');
});
