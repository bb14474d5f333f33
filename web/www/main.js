// The page: photos in, co-saliency maps out. All the work runs in a module
// worker (worker.js), which holds the wasm module (pkg/icnet_web.js, the
// engine of the `icnet` command built for WebGPU), downloads and caches the
// models and runs the groups; this file is the page's side: files, progress,
// display, and messages to the worker. The main thread never decodes a
// photo nor waits for the GPU, so the page stays responsive.
//
// For tests: document.body.dataset.state is idle | loading | ready | running
// | done | error, document.body.dataset.model the session's model
// (icnet-default | icnet-own | csa, set once it is loaded),
// document.body.dataset.saliency its saliency model (u2netp | u2net), and every result
// map is an <img data-cosal-map="<file name>"> holding the 8-bit map at the
// photo's size (the PNG `icnet run` writes); its saliency map is
// <img data-sism="<file name>"> (what --save-sisms writes) and the photo
// <img data-photo="<file name>">; #results-box's
// data-model names the model that made the maps shown, and its
// data-saliency the saliency model (empty when every saliency map was given).
// A lost GPU device is replaced by the worker: document.body.dataset.recoveries
// counts the replacements, #notice says what happened, and #results-box's
// data-reran how often the group shown was run again because of one.
// window.icnetTest.loseDevice() destroys the device (also during a run);
// loseDevice({failReopen: true}) makes opening the next one fail.

// The saliency models, as the page names them.
const SALIENCY = {
  u2netp: { file: 'u2netp.safetensors', words: 'U²-Netp' },
  u2net: { file: 'u2net.safetensors', words: 'U²-Net (full)' },
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let MIN = 2, MAX = 40;
let photos = [];          // [{file, url, stem}]
let sisms = new Map();    // stem -> File
let results = [];         // [{name, stem, map: Uint8Array}]
let busy = false;
let ready = false;
let recovering = false;   // the worker is replacing a lost GPU device
let urls = [];            // result object URLs, revoked on the next run
let model = 'icnet-default'; // the session's model: icnet-default | icnet-own | csa
let saliency = 'u2netp';  // the session's saliency model: u2netp | u2net
let ownName = null;       // the file of the user's ICNet weights, while in use
const info = { adapter: '', load: null, prepare: null, run: null, recovery: null };

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

// What happened to the GPU device, in words (not an error: the page goes on).
function showNotice(message) {
  $('notice').textContent = message;
  $('notice').hidden = !message;
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
const capital = (s) => s ? s[0].toUpperCase() + s.slice(1) : s;

// ---------------------------------------------------------------- the worker

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const calls = new Map();
let nextId = 1;

// Calls op in the worker; resolves to its value, or rejects with an Error
// whose message is the worker's sentence. Every answer carries the
// session's model and saliency model, which the page shows.
function call(op, args = {}) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    calls.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

worker.addEventListener('message', (e) => {
  const m = e.data;
  if (m.id) {
    const c = calls.get(m.id);
    calls.delete(m.id);
    if (m.state) {
      model = m.state.model;
      saliency = m.state.saliency;
      ownName = m.state.ownName;
    }
    if (m.ok) c.resolve(m.value); else c.reject(new Error(m.error));
    return;
  }
  switch (m.type) {
    case 'stage': stageProgress(m.what, m.k, m.n); break;
    case 'stage-reset': lastStage = null; break;
    case 'progress': lastStage = null; progress(m.text, m.fraction); break;
    case 'download':
      downloadNote = m.note;
      if (lastStage) progress(lastStage.text, lastStage.fraction);
      else if (m.note) progress('', m.fraction);
      break;
    case 'opened': $('adapter').title = `wgpu: ${m.adapter}`; break;
    case 'device': deviceEvent(m); break;
    default: break;
  }
});

// The worker could not start (a browser without module workers, a missing
// file): the page says so.
worker.addEventListener('error', (e) => {
  e.preventDefault();
  ready = false;
  progressStarted = 0;
  progress('stopped', 0);
  showError('The page\'s worker could not be started'
    + (e.message ? ` (${e.message.replace(/\.$/, '')})` : '')
    + '. This page needs a browser with WebGPU and module workers (a recent Chrome, Edge or Safari).');
  setState('error');
  updateButtons();
  for (const c of calls.values()) c.reject(new Error('The page\'s worker stopped.'));
  calls.clear();
});

// A lost GPU device, as the worker replaces it. While idle the page shows
// "loading" until the new device is ready; during a run the run goes on
// (and runs the group again).
let beforeRecovery = null;
function deviceEvent(m) {
  switch (m.state) {
    case 'recovering':
      recovering = true;
      showNotice(`${capital(m.problem)}: opening a new GPU device and compiling the models again`
        + ` (their weights are still in memory)${m.interrupted ? '; then the interrupted work is done again' : ''}…`);
      if (!busy) {
        beforeRecovery = document.body.dataset.state;
        setState('loading');
        progressStarted = performance.now();
        progress('opening a new GPU device', 0);
      }
      updateButtons();
      break;
    case 'recovered':
      recovering = false;
      document.body.dataset.recoveries = String(m.recoveries);
      info.recovery = { count: m.recoveries, problem: m.problem, seconds: m.seconds };
      if (info.prepare) info.prepare.variant = m.prepare.variant;
      showNotice(`${capital(m.problem)}. A new GPU device took over in ${secs(m.seconds)} `
        + '(the models were compiled again, nothing was downloaded)'
        + (m.interrupted ? '; the interrupted work is being done again.' : '.'));
      if (!busy) {
        progressStarted = 0;
        progress('ready (on a new GPU device)', 1);
        setState(beforeRecovery === 'done' ? 'done' : 'ready');
      }
      renderTimings();
      updateButtons();
      break;
    case 'rerunning':
      progressStarted = performance.now();
      progress('running the group again', 0);
      break;
    case 'failed':
      recovering = false;
      ready = false;
      showNotice('');
      showError(m.message);
      progressStarted = 0;
      progress('stopped', 0);
      setState('error');
      updateButtons();
      break;
    default: break;
  }
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
  } catch (_) { /* no WebGPU: the worker says so */ }
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
  const adapter = await adapterInfo();
  const remembered = params.get('variant') ? null : storedVariant(adapter.key);
  const s = await call('start', { variant: params.get('variant'), remembered });
  [MIN, MAX] = [s.min, s.max];
  $('formats').textContent = s.formats;
  if (s.forgetVariant) {
    try { localStorage.removeItem(adapter.key); } catch (_) { /* ignore */ }
  }
  info.adapter = adapter.words || s.adapter;
  info.load = s.load;
  downloadNote = '';
  $('adapter').textContent = info.adapter;
  $('adapter').title = `wgpu: ${s.adapter}`;
  // The whole start-up's compilation, with what prepare_saliency did while
  // VGG16 and the head downloaded.
  info.prepare = {
    ...s.prepare, model: modelWords(),
    tune_s: s.early.tune_s, saliency_s: s.early.saliency_s, saliency: s.early.saliency, tuning: s.early.tuning,
    seconds: s.compile_s, overlapped: !s.load.cached,
    remembered: !!remembered && !s.forgetVariant,
  };
  if (adapter.key && info.prepare.tuning.length) {
    try { localStorage.setItem(adapter.key, info.prepare.variant); } catch (_) { /* storage off */ }
  }
  info.startup_s = (performance.now() - progressStarted) / 1000;
  progressStarted = 0;
  progress(info.load.cached ? 'ready (models from cache)' : 'ready', 1);
  ready = true;
  setState('ready');
  showModel();
  showSaliency(s.manifest);
  updateButtons();
  renderTimings();
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

// Switches the saliency model: the worker downloads the full U²-Net (or
// reads it from the cache) the first time it is chosen, then compiles it;
// its weights stay in the session, so switching back and forth downloads
// nothing more. A failed download leaves the saliency model as it was, with
// the reason in #error.
async function changeSaliency(name) {
  clearError();
  busy = true;
  updateButtons();
  const before = document.body.dataset.state;
  setState('loading');
  progressStarted = performance.now();
  try {
    progress(`switching to ${SALIENCY[name].words}`, 0);
    const { prepare: r } = await call('saliency', { name });
    lastStage = null;
    if (info.prepare) Object.assign(info.prepare, { saliency: r.saliency, saliency_s: r.saliency_s });
    progressStarted = 0;
    progress(`ready: saliency maps by ${SALIENCY[saliency].words}`, 1);
    setState(before === 'done' ? 'done' : 'ready');
  } catch (e) {
    showError(e.message);
    progressStarted = 0;
    progress(`ready (saliency model unchanged: ${SALIENCY[saliency].words})`, 1);
    setState('error');
  }
  downloadNote = '';
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
  const idle = ready && !busy && !recovering;
  $('run').disabled = !idle || photos.length === 0;
  $('clear').disabled = busy || photos.length === 0;
  $('download-all').disabled = busy || results.length === 0;
  $('model-choice').disabled = !idle;
  $('saliency-choice').disabled = !idle;
  $('weights').disabled = !idle;
  for (const id of ['photos', 'sisms', 'clear-sisms']) $(id).disabled = busy;
}

// ---------------------------------------------------------------- run

async function run() {
  if (busy || !ready || recovering) return;
  clearError();
  if (photos.length < MIN) {
    showError(photos.length === 0
      ? 'Add at least two photos that show the same kind of object.'
      : 'A group needs at least two photos: co-saliency finds what several photos have in common. Add another photo of the same kind of object.');
    setState('error');
    return;
  }
  busy = true;
  if (!recovering) showNotice('');
  updateButtons();
  setState('running');
  progressStarted = performance.now();
  progress('reading photos', 0);
  // The files themselves go to the worker (a File is a handle: nothing is
  // read or copied on this thread).
  const given = photos.map((p) => sisms.get(p.stem) ?? null);
  let r;
  try {
    r = await call('run', {
      photos: photos.map((p) => ({ name: p.file.name, file: p.file })),
      sisms: given.some(Boolean) ? given : null,
    });
    r.modelWords = modelWords(r.model);
  } catch (e) {
    busy = false;
    progressStarted = 0;
    if (ready) {
      progress('stopped', 0);
      showError(e.message);
      setState('error');
    }
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
    progress(`done: ${r.photos.length} photos in ${secs(r.timings.total_s)}`
      + (r.reran ? ' (run again on a new GPU device)' : ''), 1);
    if (problems.length) showError('These files were left out of the group:', problems);
    if (r.reran) {
      showNotice(`${capital(info.recovery?.problem ?? 'the GPU device was lost')} during the run. A new GPU `
        + `device took over and the group ran again on it${r.reran > 1 ? ` (${r.reran} times)` : ''}: these are its maps.`);
    }
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
  $('results-box').dataset.reran = String(r.reran ?? 0);
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

    // The browser shows the photo in its EXIF orientation (and draws it so
    // in the overlay), as the engine decoded it for the map.
    const photo = document.createElement('img');
    photo.src = src ? src.url : '';
    photo.alt = `photo ${p.name}`;
    photo.dataset.photo = p.name;
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
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
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
  if (info.recovery) {
    const v = info.recovery;
    rows.push(['GPU device replaced', `${v.count} time${v.count > 1 ? 's' : ''}; the last after "${v.problem}", `
      + `ready again in ${secs(v.seconds)}`]);
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
    const { prepare } = await call('model', { file, name });
    info.prepare = { ...prepare, remembered: info.prepare?.remembered, model: modelWords() };
    progressStarted = 0;
    progress(`ready: ${modelWords()}`, 1);
    setState(before === 'done' ? 'done' : 'ready');
  } catch (e) {
    showError(e.message);
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

// For tests of the recovery: lose the device on purpose (at once, also in the
// middle of a run).
window.icnetTest = { loseDevice: (opts = {}) => call('loseDevice', opts) };

wire();
start().catch((e) => {
  progressStarted = 0;
  progress('stopped', 0);
  showError(e.message);
  setState('error');
  updateButtons();
});
