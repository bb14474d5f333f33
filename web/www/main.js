// The page: photos in, co-saliency maps out. All the work is in the wasm
// module (pkg/icnet_web.js, the engine of the `icnet` command built for
// WebGPU); this file handles files, model downloads, progress and display.
//
// For tests: document.body.dataset.state is idle | loading | ready | running
// | done | error, document.body.dataset.model the session's model
// (icnet-default | icnet-own | csa, set once it is loaded),
// document.body.dataset.saliency its saliency model (u2netp | u2net), and every result
// map is an <img data-cosal-map="<file name>"> holding the 8-bit map at the
// photo's size (the PNG `icnet run` writes); its saliency map is
// <img data-sism="<file name>"> (what --save-sisms writes); #results-box's
// data-model names the model that made the maps shown, and its
// data-saliency the saliency model (empty when every saliency map was given).

import init, { Session, last_panic, group_limits } from './pkg/icnet_web.js';

// In download order: U²-Netp (4.5 MB) first, so that it compiles while
// VGG16 (59 MB) and the head of the ICNet trained by this project (15 MB)
// download. VGG16 serves both the trained ICNet (the default) and the
// training-free model.
const U2NETP = 'u2netp.safetensors';
const VGG = 'vgg16-imagenet.safetensors';
const HEAD = 'icnet-head.safetensors';
const MODELS = [U2NETP, VGG, HEAD];
// The full U²-Net (176 MB): downloaded (or read from the cache) only when the
// saliency selector asks for it.
const SALIENCY = {
  u2netp: { file: U2NETP, words: 'U²-Netp' },
  u2net: { file: 'u2net.safetensors', words: 'U²-Net (full)' },
};
// Bump when the way models are stored changes; a new model file (its sha256
// is in models/manifest.json) gets a new cache key by itself.
const CACHE_NAME = 'icnet-models-v1';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let session = null;
let MIN = 2, MAX = 40;
let photos = [];          // [{file, url, stem}]
let sisms = new Map();    // stem -> File
let results = [];         // [{name, stem, map: Uint8Array}]
let busy = false;
let ready = false;
let urls = [];            // result object URLs, revoked on the next run
let model = 'icnet-default'; // the session's model: icnet-default | icnet-own | csa
let saliency = 'u2netp';  // the session's saliency model: u2netp | u2net
const loadedSaliency = new Set(['u2netp']); // weights in the session
let manifestP = null;     // models/manifest.json, fetched once
let ownName = null;       // the file of the user's ICNet weights, while in use
const info = { adapter: '', load: null, prepare: null, run: null };

// ---------------------------------------------------------------- state, errors, progress

function setState(s) {
  document.body.dataset.state = s;
}

function showError(message, details = []) {
  const box = $('error');
  box.replaceChildren();
  const p = document.createElement('p');
  p.textContent = message;
  box.append(p);
  if (details.length) {
    const ul = document.createElement('ul');
    for (const d of details) {
      const li = document.createElement('li');
      li.textContent = d;
      ul.append(li);
    }
    box.append(ul);
  }
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').replaceChildren();
}

// An exception from the module, in words. A panic leaves the module unusable.
function words(e) {
  let panic = null;
  try { panic = last_panic(); } catch (_) { /* the module is not loaded */ }
  if (panic) return `Internal error (please report it): ${panic}. Reload the page to start again.`;
  const m = (e && e.message) ? e.message : String(e);
  if (/unreachable|recursive use of an object/i.test(m)) {
    return `Internal error: ${m}. Reload the page to start again.`;
  }
  return m;
}

let progressStarted = 0;
// While VGG16 downloads, U²-Netp compiles: both show in the progress line.
let downloadNote = '';   // "loading models x/y MB" while a download runs
let lastStage = null;    // {text, fraction}: the last stage reported by the module
function progress(text, fraction) {
  const pct = Math.max(0, Math.min(100, Math.round((fraction ?? 0) * 100)));
  $('progress-fill').style.width = pct + '%';
  $('progress').setAttribute('aria-valuenow', String(pct));
  const secs = progressStarted ? ` · ${((performance.now() - progressStarted) / 1000).toFixed(0)} s` : '';
  $('progress-text').textContent = [text, downloadNote].filter(Boolean).join(' · ') + secs;
}

function stageProgress(what, k, n) {
  lastStage = { text: n > 0 ? `${what} (${k}/${n})` : what, fraction: n > 0 ? k / n : 0 };
  progress(lastStage.text, lastStage.fraction);
}

const mb = (b) => (b / 1e6).toFixed(1);
const secs = (s) => (s >= 10 ? s.toFixed(1) : s.toFixed(2)) + ' s';
const stemOf = (name) => { const i = name.lastIndexOf('.'); return i > 0 ? name.slice(0, i) : name; };

// Serialises calls into the session (its methods must not overlap).
let chain = Promise.resolve();
let pending = 0;
function exclusive(fn) {
  pending++;
  const p = chain.then(fn).finally(() => { pending--; });
  chain = p.catch(() => {});
  return p;
}

// A device lost while the page is idle (driver reset, GPU process crash) is
// reported without waiting for the next run.
setInterval(() => {
  if (!session || !ready || pending > 0) return;
  const problem = session.gpu_problem();
  if (problem) {
    ready = false;
    showError(`${problem[0].toUpperCase()}${problem.slice(1)}; reload the page to start again.`);
    progress('stopped', 0);
    setState('error');
    updateButtons();
  }
}, 1000);

// ---------------------------------------------------------------- models

async function manifest() {
  try {
    const r = await fetch('models/manifest.json', { cache: 'no-store' });
    if (r.ok) return await r.json();
  } catch (_) { /* no manifest: plain URLs, no size ahead */ }
  return {};
}

// Downloads the models one after the other (or reads them from the Cache
// API), reporting bytes. Returns {file: Promise<Uint8Array>} at once, and
// info.load is set when the last one has arrived.
function loadModels() {
  manifestP = manifest();
  const ctx = manifestP.then((man) => openCache(man, MODELS));
  const u2 = ctx.then((c) => loadModel(c, U2NETP));
  const vgg = u2.then(() => ctx).then((c) => loadModel(c, VGG));
  const head = vgg.then(() => ctx).then((c) => loadModel(c, HEAD));
  const done = Promise.all([ctx, head]).then(([c]) => {
    info.load = { bytes: c.got, seconds: (performance.now() - c.t0) / 1000, cached: c.fromNet === 0 };
    downloadNote = '';
  });
  for (const p of [u2, vgg, head, done]) p.catch(() => {}); // reported where awaited
  return { [U2NETP]: u2, [VGG]: vgg, [HEAD]: head, done };
}

// One model file on demand (the full U²-Net), from the cache or the site,
// with the same progress line as at start-up.
async function loadOnDemand(f) {
  const ctx = await openCache(await (manifestP ?? manifest()), [f]);
  try {
    return await loadModel(ctx, f);
  } finally {
    downloadNote = '';
  }
}

async function openCache(man, files) {
  let cache = null;
  try {
    if ('caches' in self) {
      cache = await caches.open(CACHE_NAME);
      for (const k of await caches.keys()) {
        if (k.startsWith('icnet-models-') && k !== CACHE_NAME) await caches.delete(k);
      }
    }
  } catch (_) { cache = null; /* e.g. storage blocked: download every time */ }
  const total = files.reduce((s, f) => s + (man[f]?.bytes ?? 0), 0);
  return { man, cache, total, got: 0, fromCache: 0, fromNet: 0, t0: performance.now() };
}

async function loadModel(ctx, f) {
  const { man, cache, total } = ctx;
  const key = man[f]?.sha256 ? `models/${f}?sha256=${man[f].sha256}` : `models/${f}`;
  const show = () => {
    downloadNote = `loading models ${mb(ctx.got)}/${total ? mb(total) : '?'} MB`
      + (ctx.fromCache && !ctx.fromNet ? ' (from cache)' : '');
    if (lastStage) progress(lastStage.text, lastStage.fraction);
    else progress('', total ? ctx.got / total : 0);
  };
  let resp = cache ? await cache.match(key) : undefined;
  const cached = !!resp;
  if (!resp) {
    resp = await fetch(`models/${f}`, { cache: 'no-store' });
    if (!resp.ok) {
      throw new Error(`The model file models/${f} could not be downloaded (HTTP ${resp.status}). `
        + 'The site must be built with web/build.sh, which copies the models next to the page.');
    }
  }
  const size = Number(resp.headers.get('Content-Length')) || man[f]?.bytes || 0;
  const reader = resp.body.getReader();
  let buf = new Uint8Array(size || 1 << 20), len = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (len + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, len + value.length));
      bigger.set(buf.subarray(0, len));
      buf = bigger;
    }
    buf.set(value, len);
    len += value.length;
    ctx.got += value.length;
    if (cached) ctx.fromCache += value.length; else ctx.fromNet += value.length;
    show();
  }
  const bytes = len === buf.length ? buf : buf.slice(0, len);
  if (!cached && cache) {
    try {
      await cache.put(key, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
    } catch (_) { /* quota: fine, next visit downloads again */ }
  }
  return bytes;
}

// ---------------------------------------------------------------- start-up

// The adapter in words, and a key for what was measured on it.
async function adapterInfo() {
  try {
    const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const i = a?.info;
    if (i) {
      const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ');
      return {
        words: (name || 'unnamed adapter')
          + (i.isFallbackAdapter ? ' (a software fallback: expect a minute or more per photo)' : ''),
        key: `icnet-conv-variant:${name}:${i.isFallbackAdapter}`,
      };
    }
  } catch (_) { /* no WebGPU: Session.create says so */ }
  return { words: '', key: null };
}

// The convolution variant measured on this adapter at an earlier visit (the
// measurement takes half a minute on a software adapter); ?retune measures again.
function storedVariant(key) {
  try { return key && !params.has('retune') ? localStorage.getItem(key) : null; } catch (_) { return null; }
}

async function start() {
  setState('loading');
  progressStarted = performance.now();
  progress('loading the module', 0);
  try {
    await init();
    [MIN, MAX] = Array.from(group_limits());
  } catch (e) {
    throw new Error(`The page's WebAssembly module could not be loaded (${words(e)}).`);
  }
  progress('opening the GPU', 0);
  const adapter = await adapterInfo();
  const remembered = params.get('variant') ? null : storedVariant(adapter.key);
  // Open the GPU and download the models at the same time.
  const opened = Session.create(params.get('variant') ?? remembered);
  const models = loadModels();
  try {
    session = await opened;
  } catch (e) {
    if (!remembered) throw e;
    // A stale remembered variant: forget it and measure.
    try { localStorage.removeItem(adapter.key); } catch (_) { /* ignore */ }
    session = await Session.create(null);
  }
  info.adapter = adapter.words || session.adapter();
  $('adapter').textContent = info.adapter;
  $('adapter').title = `wgpu: ${session.adapter()}`;
  // U²-Netp first: the convolution variants are timed and U²-Netp compiles
  // while VGG16 and the head are still downloading.
  const t0 = performance.now();
  const u2 = await models[U2NETP];
  await exclusive(async () => session.load_u2netp(u2));
  delete models[U2NETP];
  const early = await exclusive(() => session.prepare_saliency(stageProgress));
  lastStage = null;
  const vgg = await models[VGG];
  const head = await models[HEAD];
  await models.done;
  progress('reading the VGG16 weights and the trained ICNet', 1);
  await exclusive(async () => {
    session.load_vgg_and_head(vgg, head);
    model = session.model();
  });
  delete models[VGG];
  delete models[HEAD];
  await prepare();
  // The whole start-up's compilation, with what prepare_saliency did.
  Object.assign(info.prepare, {
    tune_s: early.tune_s, saliency_s: early.saliency_s, saliency: early.saliency, tuning: early.tuning,
    seconds: (performance.now() - t0) / 1000, overlapped: !info.load.cached,
  });
  if (remembered) info.prepare.remembered = true;
  if (adapter.key && info.prepare.tuning.length) {
    try { localStorage.setItem(adapter.key, info.prepare.variant); } catch (_) { /* storage off */ }
  }
  info.startup_s = (performance.now() - progressStarted) / 1000;
  progressStarted = 0;
  progress(info.load.cached ? 'ready (models from cache)' : 'ready', 1);
  ready = true;
  setState('ready');
  showModel();
  showSaliency(await manifestP);
  updateButtons();
  renderTimings();
}

// Compiles the pipelines (and times the convolution variants the first time).
async function prepare() {
  const t0 = performance.now();
  const r = await exclusive(() => session.prepare(stageProgress));
  info.prepare = {
    ...r, seconds: (performance.now() - t0) / 1000, remembered: info.prepare?.remembered, model: modelWords(),
  };
}

// A model name of the session in words (own weights: the file's name).
function modelWords(name = model, file = ownName) {
  switch (name) {
    case 'icnet-default': return 'ICNet, trained by this project';
    case 'icnet-own': return `ICNet with your weights${file ? ` (${file})` : ''}`;
    case 'csa': return 'training-free (csa: VGG16 + ICNet correlation)';
    default: return name;
  }
}

// The session's model in the header, the selector and body[data-model].
function showModel() {
  $('model').textContent = modelWords();
  document.body.dataset.model = model;
  const sel = $('model-choice');
  sel.value = model === 'icnet-own' ? 'own' : model;
  sel.querySelector('option[value=own]').textContent = model === 'icnet-own' && ownName
    ? `Own ICNet weights: ${ownName}` : 'Own ICNet weights…';
}

// The session's saliency model in the selector and body[data-saliency]; with
// the manifest, U²-Net is offered only when the site has it.
function showSaliency(man = null) {
  document.body.dataset.saliency = saliency;
  const sel = $('saliency-choice');
  sel.value = saliency;
  const full = sel.querySelector('option[value=u2net]');
  if (man && Object.keys(man).length && !man[SALIENCY.u2net.file]) {
    full.disabled = true;
    full.textContent = 'U²-Net (full): not on this site (fetch-models, then web/build.sh)';
  }
}

// Switches the saliency model: the full U²-Net is downloaded (or read from
// the cache) the first time it is chosen, then compiled; its weights stay in
// the session, so switching back and forth downloads nothing more. A failed
// download leaves the saliency model as it was, with the reason in #error.
async function changeSaliency(name) {
  clearError();
  busy = true;
  updateButtons();
  const before = document.body.dataset.state;
  const previous = saliency;
  setState('loading');
  progressStarted = performance.now();
  try {
    if (!loadedSaliency.has(name)) {
      progress(`loading ${SALIENCY[name].words}`, 0);
      const bytes = await loadOnDemand(SALIENCY[name].file);
      progress(`reading ${SALIENCY[name].file}`, 0);
      await exclusive(async () => session.load_saliency(name, bytes));
      loadedSaliency.add(name);
    }
    await exclusive(async () => {
      session.set_saliency(name);
      saliency = session.saliency();
    });
    showSaliency();
    const r = await exclusive(() => session.prepare_saliency(stageProgress));
    lastStage = null;
    if (info.prepare) Object.assign(info.prepare, { saliency: r.saliency, saliency_s: r.saliency_s });
    progressStarted = 0;
    progress(`ready: saliency maps by ${SALIENCY[saliency].words}`, 1);
    setState(before === 'done' ? 'done' : 'ready');
  } catch (e) {
    showError(words(e));
    if (saliency !== previous) {
      // It failed to compile: back to the one that worked (compiled at the next run).
      await exclusive(async () => {
        session.set_saliency(previous);
        saliency = session.saliency();
      }).catch(() => {});
    }
    progressStarted = 0;
    progress(`ready (saliency model unchanged: ${SALIENCY[saliency].words})`, 1);
    setState('error');
  }
  progressStarted = 0;
  busy = false;
  showSaliency();
  renderTimings();
  updateButtons();
}

// ---------------------------------------------------------------- photos

function addPhotos(files) {
  clearError();
  const notes = [];
  for (const file of files) {
    if (photos.some((p) => p.file.name === file.name && p.file.size === file.size)) continue;
    if (photos.length >= MAX) {
      notes.push(`${file.name}: a group holds at most ${MAX} photos; it was not added.`);
      continue;
    }
    photos.push({ file, url: URL.createObjectURL(file), stem: stemOf(file.name) });
  }
  if (notes.length) showError('Some files were not added:', notes);
  renderThumbs();
}

function renderThumbs() {
  const ul = $('thumbs');
  ul.replaceChildren();
  photos.forEach((p, i) => {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.src = p.url;
    img.alt = p.file.name;
    img.addEventListener('error', () => {
      li.classList.add('bad');
      img.replaceWith(Object.assign(document.createElement('span'), { className: 'noimg', textContent: 'not an image?' }));
    });
    const cap = document.createElement('span');
    cap.className = 'name';
    cap.textContent = p.file.name + (sisms.has(p.stem) ? ' · own saliency map' : '');
    const x = document.createElement('button');
    x.type = 'button';
    x.className = 'remove';
    x.textContent = '×';
    x.title = `Remove ${p.file.name}`;
    x.addEventListener('click', () => {
      if (busy) return;
      URL.revokeObjectURL(p.url);
      photos.splice(i, 1);
      renderThumbs();
    });
    li.append(img, cap, x);
    ul.append(li);
  });
  const unmatched = [...sisms.keys()].filter((s) => !photos.some((p) => p.stem === s));
  $('sism-note').textContent = sisms.size
    ? `${sisms.size} saliency map${sisms.size > 1 ? 's' : ''}` + (unmatched.length ? `; no photo for: ${unmatched.join(', ')}` : '')
    : '';
  updateButtons();
}

function updateButtons() {
  $('run').disabled = !ready || busy || photos.length === 0;
  $('clear').disabled = busy || photos.length === 0;
  $('download-all').disabled = busy || results.length === 0;
  $('model-choice').disabled = busy || !ready;
  $('saliency-choice').disabled = busy || !ready;
  $('weights').disabled = busy || !ready;
  for (const id of ['photos', 'sisms', 'clear-sisms']) $(id).disabled = busy;
}

// ---------------------------------------------------------------- run

async function run() {
  if (busy || !ready) return;
  clearError();
  if (photos.length < MIN) {
    showError(photos.length === 0
      ? 'Add at least two photos that show the same kind of object.'
      : 'A group needs at least two photos: co-saliency finds what several photos have in common. Add another photo of the same kind of object.');
    setState('error');
    return;
  }
  busy = true;
  updateButtons();
  setState('running');
  progressStarted = performance.now();
  progress('reading photos', 0);
  let r;
  try {
    const list = [];
    for (const p of photos) list.push({ name: p.file.name, bytes: new Uint8Array(await p.file.arrayBuffer()) });
    const given = photos.map((p) => sisms.get(p.stem) ?? null);
    const sismBytes = given.some(Boolean)
      ? await Promise.all(given.map(async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : null)))
      : null;
    r = await exclusive(() => session.run(list, sismBytes, stageProgress));
    r.modelWords = modelWords(r.model);
  } catch (e) {
    busy = false;
    progressStarted = 0;
    progress('stopped', 0);
    showError(words(e));
    setState('error');
    updateButtons();
    return;
  }
  busy = false;
  progressStarted = 0;
  info.run = r;
  const problems = Array.from(r.problems, (p) => p.message);
  if (r.error) {
    progress('stopped', 0);
    showError(r.error + (r.fatal ? '' : (problems.length ? ' These files could not be used:' : '')), problems);
    setState('error');
    if (r.fatal) ready = false;
  } else {
    progress(`done: ${r.photos.length} photos in ${secs(r.timings.total_s)}`, 1);
    if (problems.length) showError('These files were left out of the group:', problems);
    showResults(r);
    setState('done');
  }
  renderTimings();
  updateButtons();
}

function showResults(r) {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
  results = [];
  const box = $('results');
  box.replaceChildren();
  $('results-box').dataset.model = r.model;
  $('results-box').dataset.saliency = r.saliency ?? '';
  $('results-saliency').textContent = r.saliency ? SALIENCY[r.saliency].words : 'the saliency maps you gave';
  $('results-model').textContent = r.modelWords;
  for (const p of r.photos) {
    const src = photos.find((q) => q.file.name === p.name);
    const mapUrl = URL.createObjectURL(new Blob([p.map], { type: 'image/png' }));
    const sismUrl = URL.createObjectURL(new Blob([p.sism], { type: 'image/png' }));
    urls.push(mapUrl, sismUrl);
    results.push({ name: p.name, stem: stemOf(p.name), map: p.map });

    const row = document.createElement('figure');
    row.className = 'result';
    const cap = document.createElement('figcaption');
    cap.textContent = `${p.name} · ${p.width}x${p.height}`;
    const a = document.createElement('a');
    a.href = mapUrl;
    a.download = stemOf(p.name) + '.png';
    a.textContent = 'download map';
    cap.append(' · ', a);

    const photo = document.createElement('img');
    photo.src = src ? src.url : '';
    photo.alt = `photo ${p.name}`;
    const sism = document.createElement('img');
    sism.src = sismUrl;
    sism.alt = `saliency map of ${p.name}`;
    sism.title = p.sism_given ? 'saliency map you gave' : `saliency map (${SALIENCY[r.saliency]?.words})`;
    sism.dataset.sism = p.name;
    const map = document.createElement('img');
    map.src = mapUrl;
    map.alt = `co-saliency map of ${p.name}`;
    map.dataset.cosalMap = p.name;
    const overlay = document.createElement('canvas');
    overlay.title = 'overlay: the photo, dimmed where the co-saliency map is dark';
    drawOverlay(overlay, photo, map);

    const cells = [[photo, 'photo'], [sism, p.sism_given ? 'your saliency map' : 'saliency map'],
      [map, 'co-saliency map'], [overlay, 'overlay']].map(([el, label]) => {
      const d = document.createElement('div');
      d.className = 'cell';
      const l = document.createElement('span');
      l.textContent = label;
      d.append(el, l);
      return d;
    });
    row.append(cap, ...cells);
    box.append(row);
  }
  $('results-box').hidden = false;
}

// The photo dimmed where the map is dark, with a tint where it is bright.
async function drawOverlay(canvas, photo, map) {
  try {
    await Promise.all([photo.decode(), map.decode()]);
  } catch (_) { return; }
  const w0 = map.naturalWidth, h0 = map.naturalHeight;
  const scale = Math.min(1, 480 / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * scale)), h = Math.max(1, Math.round(h0 * scale));
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(map, 0, 0, w, h);
  const m = ctx.getImageData(0, 0, w, h).data;
  ctx.drawImage(photo, 0, 0, w, h);
  const img = ctx.getImageData(0, 0, w, h);
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const a = m[i] / 255;
    const keep = 0.25 + 0.75 * a;
    d[i] = d[i] * keep + 90 * a;
    d[i + 1] = d[i + 1] * keep;
    d[i + 2] = d[i + 2] * keep;
  }
  ctx.putImageData(img, 0, 0);
}

// ---------------------------------------------------------------- timings

function renderTimings() {
  const rows = [];
  rows.push(['GPU', info.adapter]);
  if (info.load) {
    rows.push(['models', `${mb(info.load.bytes)} MB in ${secs(info.load.seconds)}${info.load.cached ? ' (from cache)' : ''}`]);
  }
  if (info.prepare) {
    const p = info.prepare;
    const compile = (p.tune_s || 0) + (p.saliency_s || 0) + (p.cosal_s || 0);
    const sal = SALIENCY[p.saliency]?.words ?? 'saliency model';
    rows.push(['compiling', `${secs(compile)} (` + (p.tune_s ? `convolution timing ${secs(p.tune_s)}, ` : '')
      + `${sal} ${secs(p.saliency_s)}, co-saliency model ${secs(p.cosal_s)}`
      + (p.model ? ` for ${p.model})` : ')')
      + (p.overlapped ? '; U²-Netp while VGG16 and the ICNet head downloaded' : '')]);
    if (info.startup_s) rows.push(['page ready after', secs(info.startup_s)]);
    const tuning = Array.from(p.tuning || [])
      .map((t) => `${t.variant} ${t.ms.toFixed(0)} ms, compiled in ${t.compile_ms.toFixed(0)} ms`).join('; ');
    rows.push(['convolution kernel', p.variant + (tuning ? ` (measured: ${tuning})`
      : p.remembered ? ' (measured at an earlier visit; open the page with ?retune to measure again)' : '')]);
  }
  const r = info.run;
  if (r && !r.error) {
    const t = r.timings;
    const n = r.photos.length;
    rows.push(['model', r.modelWords]);
    rows.push(['reading photos', secs(t.check_s)]);
    rows.push([`saliency maps (${r.saliency ? SALIENCY[r.saliency].words : 'given'})`, secs(t.saliency_s)]);
    rows.push(['plan compilation and upload', secs(t.setup_s)]);
    rows.push(['backbone (VGG16)', secs(t.backbone_s)]);
    rows.push(['co-saliency', secs(t.cosal_s)]);
    rows.push(['maps to photo size and PNG', secs(t.post_s)]);
    rows.push(['total', `${secs(t.total_s)} for ${n} photos, ${secs(t.total_s / Math.max(1, n))} per photo`]);
  }
  const table = $('timings');
  table.replaceChildren();
  for (const [k, v] of rows) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    table.append(tr);
  }
  $('timings-box').hidden = rows.length === 0;
}

// ---------------------------------------------------------------- downloads

// A zip archive without compression (PNGs do not compress further).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function zip(files) {
  const enc = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of files) {
    const n = enc.encode(name);
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true); // UTF-8 names
    local.setUint16(8, 0, true); // stored
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, n.length, true);
    parts.push(local, n, data);
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0800, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, data.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, n.length, true);
    c.setUint32(42, offset, true);
    central.push(c, n);
    offset += 30 + n.length + data.length;
  }
  const size = central.reduce((s, p) => s + p.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: 'application/zip' });
}

function downloadAll() {
  const used = new Set();
  const files = results.map((r) => {
    let name = r.stem + '.png';
    for (let k = 2; used.has(name); k++) name = `${r.stem}-${k}.png`;
    used.add(name);
    return { name: 'maps/' + name, data: r.map };
  });
  const url = URL.createObjectURL(zip(files));
  const a = Object.assign(document.createElement('a'), { href: url, download: 'co-saliency-maps.zip' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------------------------------------------------------------- wiring

// Switches the session's model: to the user's ICNet weights (`file`), or to
// `name` (icnet-default | csa), then compiles its plan. Bad weights leave the
// model as it was, with the reason in #error.
async function changeModel({ file = null, name = null }) {
  clearError();
  busy = true;
  updateButtons();
  const before = document.body.dataset.state;
  setState('loading');
  progressStarted = performance.now();
  try {
    progress(file ? `reading ${file.name}` : `switching to ${modelWords(name, null)}`, 0);
    const bytes = file ? new Uint8Array(await file.arrayBuffer()) : null;
    await exclusive(async () => {
      if (file) session.set_icnet_weights(bytes, file.name);
      else session.set_model(name);
      model = session.model();
      ownName = file ? file.name : null;
    });
    showModel();
    await prepare();
    progressStarted = 0;
    progress(`ready: ${modelWords()}`, 1);
    setState(before === 'done' ? 'done' : 'ready');
  } catch (e) {
    showError(words(e));
    progressStarted = 0;
    progress(`ready (model unchanged: ${modelWords()})`, 1);
    setState('error');
  }
  progressStarted = 0;
  $('weights').value = '';
  busy = false;
  showModel();
  renderTimings();
  updateButtons();
}

function wire() {
  $('photos').addEventListener('change', (e) => {
    addPhotos(Array.from(e.target.files));
    e.target.value = '';
  });
  const dz = $('dropzone');
  dz.addEventListener('dragover', (e) => { e.preventDefault(); dz.classList.add('over'); });
  dz.addEventListener('dragleave', () => dz.classList.remove('over'));
  dz.addEventListener('drop', (e) => {
    e.preventDefault();
    dz.classList.remove('over');
    if (!busy) addPhotos(Array.from(e.dataTransfer.files));
  });
  $('run').addEventListener('click', run);
  $('clear').addEventListener('click', () => {
    for (const p of photos) URL.revokeObjectURL(p.url);
    photos = [];
    clearError();
    renderThumbs();
  });
  $('download-all').addEventListener('click', downloadAll);
  $('sisms').addEventListener('change', (e) => {
    for (const f of e.target.files) sisms.set(stemOf(f.name), f);
    e.target.value = '';
    renderThumbs();
  });
  $('clear-sisms').addEventListener('click', () => { sisms = new Map(); renderThumbs(); });
  $('weights').addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) changeModel({ file: f });
  });
  // Closing the file chooser without a file: the selector shows the model in use.
  $('weights').addEventListener('cancel', () => showModel());
  $('saliency-choice').addEventListener('change', (e) => {
    const v = e.target.value;
    if (v !== saliency) changeSaliency(v);
  });
  $('model-choice').addEventListener('change', (e) => {
    const v = e.target.value;
    if (v === 'own') {
      $('options').open = true;
      $('weights').click();
    } else if (v !== model) {
      changeModel({ name: v });
    }
  });
}

// For tests of the error handling: lose the device on purpose.
window.icnetTest = { loseDevice: () => exclusive(async () => session.destroy_device()) };

wire();
start().catch((e) => {
  progressStarted = 0;
  progress('stopped', 0);
  showError(words(e));
  setState('error');
  updateButtons();
});
