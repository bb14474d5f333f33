// The page's worker (a module worker): it owns the wasm module's Session (the
// GPU device and the models), downloads and caches the model files, and runs
// the groups, so the page's main thread (main.js: files, progress, display)
// stays free while photos decode and the networks run. WebGPU works in
// dedicated workers.
//
// Messages from the page: {id, op, args}; each is answered with {id, ok:
// true, value, state} or {id, ok: false, error (a sentence), state}, where
// state is {model, saliency, ownName} of the session. Ops: start, model,
// saliency, run, loseDevice (test hook: destroys the device at once, also
// during a run). Without an id the worker reports: {type: 'stage', what, k,
// n} (the module's progress), {type: 'stage-reset'}, {type: 'progress', text,
// fraction}, {type: 'download', note, fraction}, {type: 'opened', adapter},
// {type: 'device', state: 'recovering' | 'recovered' | 'rerunning' |
// 'failed', ...} (a lost device and its replacement).
//
// A lost device (a driver reset, the GPU process gone, the test hook) is
// replaced: Session.reopen() opens a new device and keeps the models (their
// weights stay in the module's memory), the model and saliency choices and
// the convolution variant; then the session compiles again, and a group that
// the loss interrupted runs again. Only when no new device can be opened is
// it an error.

import init, { Session, last_panic, group_limits, read_formats } from './pkg/icnet_web.js';

// In download order: U²-Netp (4.5 MB) first, so that it compiles while
// VGG16 (59 MB) and the head of the ICNet trained by this project (15 MB)
// download. VGG16 serves both the trained ICNet (the default) and the
// training-free model.
const U2NETP = 'u2netp.safetensors';
const VGG = 'vgg16-imagenet.safetensors';
const HEAD = 'icnet-head.safetensors';
const MODELS = [U2NETP, VGG, HEAD];
// The saliency models' files; the full U²-Net (176 MB) is downloaded (or read
// from the cache) only when the page asks for it.
const SALIENCY_FILES = { u2netp: U2NETP, u2net: 'u2net.safetensors' };
// Bump when the way models are stored changes; a new model file (its sha256
// is in models/manifest.json) gets a new cache key by itself.
const CACHE_NAME = 'icnet-models-v1';

let session = null;
let handle = null;        // the device's DeviceHandle (the test hook), renewed with the device
let started = false;      // start-up done: the idle watch may replace a lost device
let dead = null;          // why the session cannot go on (then every op fails with it)
let manifestP = null;     // models/manifest.json, fetched once
let ownName = null;       // the file of the user's ICNet weights, while in use
const loadedSaliency = new Set(['u2netp']);
let recoveries = 0;
let failReopen = false;   // test hook: the next device cannot be opened

const post = (m, transfer = []) => self.postMessage(m, transfer);
const stage = (what, k, n) => post({ type: 'stage', what, k, n });
const progress = (text, fraction) => post({ type: 'progress', text, fraction });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const mb = (b) => (b / 1e6).toFixed(1);

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

// Serialises calls into the session (its methods must not overlap).
let chain = Promise.resolve();
let pending = 0;
function exclusive(fn) {
  pending++;
  const p = chain.then(() => {
    if (dead) throw new Error(dead);
    return fn();
  }).finally(() => { pending--; });
  chain = p.catch(() => {});
  return p;
}

// Whether the device was lost. The lost callback comes from a promise of the
// browser, which may settle a moment after the failed GPU call it explains.
async function lostSoon() {
  for (let i = 0; i < 10; i++) {
    if (session?.device_lost()) return true;
    await sleep(50);
  }
  return false;
}

// Opens a new device in place of the lost one and compiles the session's
// models on it again (their weights come from the module's memory: nothing
// is downloaded). Up to three tries; then the session is dead, in words.
async function recover(interrupted) {
  const problem = session.gpu_problem() || 'the GPU device was lost';
  const t0 = performance.now();
  post({ type: 'device', state: 'recovering', problem, interrupted });
  for (let attempt = 1; ; attempt++) {
    try {
      if (failReopen) throw new Error('the test asked for the new device to fail');
      await session.reopen();
      handle = session.device_handle();
      // (During start-up the co-saliency model may not be loaded yet: the
      // rest of start-up compiles it.)
      const prepare = started ? await session.prepare(stage) : await session.prepare_saliency(stage);
      post({ type: 'stage-reset' });
      recoveries++;
      post({
        type: 'device', state: 'recovered', problem, interrupted, prepare, recoveries,
        adapter: session.adapter(), seconds: (performance.now() - t0) / 1000,
      });
      return;
    } catch (e) {
      if (attempt >= 3) {
        const why = words(e);
        dead = `${problem[0].toUpperCase()}${problem.slice(1)}, and a new GPU device could not be opened `
          + `(${why.replace(/\.$/, '')}). Reload the page to start again.`;
        post({ type: 'device', state: 'failed', problem, message: dead });
        throw new Error(dead);
      }
      await sleep(500 * attempt);
    }
  }
}

// A session call (in the queue) that a lost device does not end: when it
// fails (throws, or returns {error}) and the device was lost, the device is
// replaced and the call made again (at most twice); onRetry is told.
function guarded(fn, onRetry = () => {}) {
  return exclusive(async () => {
    for (let attempt = 0; ; attempt++) {
      let value; let error = null;
      try { value = await fn(); } catch (e) { error = e; }
      if (!error && !value?.error) return value;
      if (attempt >= 2 || !(await lostSoon())) {
        if (error) throw error;
        return value;
      }
      await recover(true);
      onRetry();
    }
  });
}

// A lost device while nothing runs (a driver reset, the GPU process gone) is
// replaced without waiting for the next run.
setInterval(() => {
  if (!started || dead || pending > 0 || !session?.device_lost()) return;
  exclusive(() => recover(false)).catch(() => { /* reported as 'failed' */ });
}, 500);

// ---------------------------------------------------------------- models

async function manifest() {
  try {
    const r = await fetch('models/manifest.json', { cache: 'no-store' });
    if (r.ok) return await r.json();
  } catch (_) { /* no manifest: plain URLs, no size ahead */ }
  return {};
}

// Downloads the models one after the other (or reads them from the Cache
// API), reporting bytes. Returns {file: Promise<Uint8Array>, done} at once;
// done resolves to {bytes, seconds, cached} when the last one has arrived.
function loadModels() {
  manifestP = manifest();
  const ctx = manifestP.then((man) => openCache(man, MODELS));
  const u2 = ctx.then((c) => loadModel(c, U2NETP));
  const vgg = u2.then(() => ctx).then((c) => loadModel(c, VGG));
  const head = vgg.then(() => ctx).then((c) => loadModel(c, HEAD));
  const done = Promise.all([ctx, head]).then(([c]) => {
    post({ type: 'download', note: '', fraction: 1 });
    return { bytes: c.got, seconds: (performance.now() - c.t0) / 1000, cached: c.fromNet === 0 };
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
    post({ type: 'download', note: '', fraction: 1 });
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
  let shown = 0;
  const show = () => {
    // At most every 50 ms: a message per network chunk would flood the page.
    const now = performance.now();
    if (now - shown < 50 && ctx.got < total) return;
    shown = now;
    post({
      type: 'download',
      note: `loading models ${mb(ctx.got)}/${total ? mb(total) : '?'} MB`
        + (ctx.fromCache && !ctx.fromNet ? ' (from cache)' : ''),
      fraction: total ? ctx.got / total : 0,
    });
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

// ---------------------------------------------------------------- ops

const OPS = {
  // Loads the module, opens the GPU (with `variant`, or the variant
  // `remembered` for this adapter: measured again when it no longer works),
  // downloads the models and compiles everything a run needs.
  async start({ variant = null, remembered = null }) {
    try {
      await init();
    } catch (e) {
      throw new Error(`The page's WebAssembly module could not be loaded (${words(e)}).`);
    }
    const [min, max] = Array.from(group_limits());
    progress('opening the GPU', 0);
    // Open the GPU and download the models at the same time.
    const opened = Session.create(variant ?? remembered);
    const models = loadModels();
    let forgetVariant = false;
    try {
      session = await opened;
    } catch (e) {
      if (variant || !remembered) throw e;
      // A stale remembered variant: forget it and measure.
      forgetVariant = true;
      session = await Session.create(null);
    }
    handle = session.device_handle();
    post({ type: 'opened', adapter: session.adapter() });
    // U²-Netp first: the convolution variants are timed and U²-Netp compiles
    // while VGG16 and the head are still downloading.
    const t0 = performance.now();
    const u2 = await models[U2NETP];
    await exclusive(async () => session.load_u2netp(u2));
    delete models[U2NETP];
    const early = await guarded(() => session.prepare_saliency(stage));
    post({ type: 'stage-reset' });
    const vgg = await models[VGG];
    const head = await models[HEAD];
    const load = await models.done;
    progress('reading the VGG16 weights and the trained ICNet', 1);
    await exclusive(async () => session.load_vgg_and_head(vgg, head));
    delete models[VGG];
    delete models[HEAD];
    const t1 = performance.now();
    const prepare = await guarded(() => session.prepare(stage));
    const done = performance.now();
    started = true;
    return {
      min, max, load, early, forgetVariant, formats: read_formats(),
      prepare: { ...prepare, seconds: (done - t1) / 1000 },
      compile_s: (done - t0) / 1000,
      adapter: session.adapter(),
      manifest: await manifestP,
    };
  },

  // Switches the model: to the user's ICNet weights (`file`, a File), or to
  // `name` (icnet-default | csa), then compiles its plan. Bad weights leave
  // the model as it was.
  async model({ name = null, file = null }) {
    const bytes = file ? new Uint8Array(await file.arrayBuffer()) : null;
    await exclusive(async () => {
      if (file) session.set_icnet_weights(bytes, file.name);
      else session.set_model(name);
      ownName = file ? file.name : null;
    });
    const t0 = performance.now();
    const prepare = await guarded(() => session.prepare(stage));
    return { prepare: { ...prepare, seconds: (performance.now() - t0) / 1000 } };
  },

  // Switches the saliency model: the full U²-Net is downloaded (or read from
  // the cache) the first time it is chosen, then compiled; its weights stay
  // in the session. A failure leaves the saliency model as it was.
  async saliency({ name }) {
    const previous = session.saliency();
    try {
      if (!loadedSaliency.has(name)) {
        progress(`loading ${SALIENCY_FILES[name]}`, 0);
        const bytes = await loadOnDemand(SALIENCY_FILES[name]);
        progress(`reading ${SALIENCY_FILES[name]}`, 0);
        await exclusive(async () => session.load_saliency(name, bytes));
        loadedSaliency.add(name);
      }
      await exclusive(async () => session.set_saliency(name));
      const prepare = await guarded(() => session.prepare_saliency(stage));
      post({ type: 'stage-reset' });
      return { prepare };
    } catch (e) {
      if (session.saliency() !== previous) {
        // It failed to compile: back to the one that worked (compiled at the next run).
        await exclusive(async () => session.set_saliency(previous)).catch(() => {});
      }
      throw e;
    }
  },

  // Runs a group: photos [{name, file}], sisms null or [File | null] as
  // long. The files are read here, off the page's thread. A group that a
  // lost device interrupts runs again on the new device (`reran` counts it).
  async run({ photos, sisms }) {
    progress('reading photos', 0);
    const list = [];
    for (const p of photos) list.push({ name: p.name, bytes: new Uint8Array(await p.file.arrayBuffer()) });
    const sismBytes = sisms
      ? await Promise.all(sisms.map(async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : null)))
      : null;
    let reran = 0;
    const r = await guarded(() => session.run(list, sismBytes, stage), () => {
      reran++;
      post({ type: 'device', state: 'rerunning' });
    });
    r.reran = reran;
    return r;
  },

  // Test hook: destroys the device now, as a lost device would be, also in
  // the middle of a run (not queued); with failReopen, no new device can be
  // opened after it (the page's error in words).
  async loseDevice({ failReopen: fail = false }) {
    if (!handle) throw new Error('no GPU device is open yet.');
    failReopen = fail;
    handle.destroy();
  },
};

// The maps of a run move to the page instead of being copied.
function transferables(value) {
  const list = [];
  for (const p of value?.photos ?? []) {
    for (const k of ['map', 'sism']) if (p[k]?.buffer) list.push(p[k].buffer);
  }
  return list;
}

function state() {
  if (!session) return null;
  try {
    return { model: session.model(), saliency: session.saliency(), ownName: session.model() === 'icnet-own' ? ownName : null };
  } catch (_) {
    return null; // the session is busy (a run) or the module stopped
  }
}

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    const f = OPS[op];
    if (!f) throw new Error(`unknown operation ${op}`);
    if (dead && op !== 'loseDevice') throw new Error(dead);
    const value = await f(args ?? {});
    post({ id, ok: true, value, state: state() }, transferables(value));
  } catch (err) {
    post({ id, ok: false, error: words(err), state: state() });
  }
};
