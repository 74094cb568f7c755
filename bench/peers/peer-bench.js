#!/usr/bin/env node
// Peer benchmark: ONNX Runtime int8 (the exact QDQ export) and f8net's runtime (the same .f8, once
// per ISA in --f8net-isas), optionally ORT int8 on a fully fused QLinear graph of the same
// architecture (make-fused-qdq.py: the fastest ORT int8, NOT exact) and ORT fp32 on the float
// reference, timed interleaved in one run: batch B (default 1) at the model's input size, T
// threads each (ORT intraOp T, interOp 1; f8net --threads T --batch B: run_batch), warm-up, then
// >= 30 timed inferences of B images each, in rounds of --block consecutive runs per engine. A
// peer whose graph has a fixed batch of 1 is left out of a B > 1 run (said in the output). Prints median/min latency, images/s, GMAC/s, the
// ratios f8net / each peer and the CPU (lscpu model and flags), then one JSON line.
//   peer-bench.js --f8 M.f8 --onnx M.onnx [--fused-onnx M-fused.onnx] [--float-onnx M-float.onnx]
//                 --timer build/.../f8net_time [--f8net-isas avx512vnni,avx2] [--threads 2]
//                 [--runs 30] [--warmup 5] [--batch 1] [--gap-ms 50] [--block 5] [--name resnet18]
'use strict';
const {spawn, execSync} = require('child_process');
const path = require('path');
const readline = require('readline');

function fail(msg) {
  process.stderr.write('peer-bench: ' + msg + '\n');
  process.exit(1);
}

const a = {threads: 2, runs: 30, warmup: 5, batch: 1, gapMs: 50, block: 5, name: '', f8netIsas: ''};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[i + 1];
for (const k of ['f8', 'onnx', 'timer']) if (!a[k]) fail('missing --' + k);
a.threads = Number(a.threads); a.runs = Number(a.runs); a.warmup = Number(a.warmup);
a.batch = Number(a.batch); a.gapMs = Number(a.gapMs); a.block = Math.max(1, Number(a.block));
if (!(a.batch >= 1)) fail('--batch must be >= 1');
if (a.runs < 30) fail('--runs must be >= 30');

const ortDir = process.env.F8NET_ORT_NODE_MODULES ||
               path.join(__dirname, '..', '..', 'third_party', 'node', 'node_modules');
const ort = require(path.join(ortDir, 'onnxruntime-node'));

function cpu() {
  let out = '';
  try { out = execSync('lscpu', {encoding: 'utf8'}); } catch (e) { return {model: '?', flags: ''}; }
  const get = (k) => ((out.match(new RegExp('^' + k + ':\\s*(.*)$', 'm')) || [])[1] || '').trim();
  return {model: get('Model name'), flags: get('Flags')};
}

function stats(ms) {
  const s = ms.slice().sort((x, y) => x - y);
  const mid = s.length >> 1;
  return {median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], runs: s.length};
}

// A timed ORT session, or null when the graph refuses this input (a fixed batch of 1).
async function ortSession(file, input) {
  const session = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: 'all', intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential'});
  const feeds = {[session.inputNames[0]]: input};
  try { await session.run(feeds); } catch (e) {
    if (a.batch === 1) throw e;
    console.log(`  (${path.basename(file)} left out: ${String(e.message || e).split('\n')[0]})`);
    return null;
  }
  return async () => {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
}

// One f8net-time server (F8NET_ISA=isa when given); resolves to {hello, run}.
async function f8netTimer(isa) {
  const env = Object.assign({}, process.env);
  if (isa) env.F8NET_ISA = isa;
  const timer = spawn(a.timer, [a.f8, '--threads', String(a.threads), '--batch', String(a.batch)],
                      {stdio: ['pipe', 'pipe', 'inherit'], env});
  const lines = readline.createInterface({input: timer.stdout});
  const queue = [];
  const waiting = [];
  lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queue.push(l)));
  const next = () => new Promise((res) => (queue.length ? res(queue.shift()) : waiting.push(res)));
  timer.on('exit', (code) => { if (code) fail('f8net timer (' + (isa || 'best') + ') exited with ' + code); });
  const hello = JSON.parse(await next());
  const run = async () => { timer.stdin.write('run 1\n'); return JSON.parse(await next()).ms[0]; };
  return {hello, run, end: () => timer.stdin.end()};
}

async function main() {
  const isas = a.f8netIsas ? a.f8netIsas.split(',') : [''];
  const timers = [];
  for (const isa of isas) timers.push(await f8netTimer(isa));
  const hello = timers[0].hello;
  const [c, h, w] = hello.input;
  const n = c * h * w * a.batch;
  const codes = new Uint8Array(n).map((_, i) => ((i % (c * h * w)) * 2654435761) >>> 24);
  const shape = [a.batch, c, h, w];
  const signed = hello.dtype === 'int8';
  const qInput = new ort.Tensor(signed ? 'int8' : 'uint8', signed ? Int8Array.from(codes, (v) => (v % 255) - 127) : codes, shape);
  const contenders = timers.map((t, k) => [isas[k] ? 'f8net (' + isas[k] + ')' : 'f8net', t.run]);
  const peers = [['ort-int8', await ortSession(a.onnx, qInput)]];
  if (a.fusedOnnx) {
    const ux = new ort.Tensor('uint8', codes, shape);
    peers.push(['ort-int8 fused QLinear (not exact)', await ortSession(a.fusedOnnx, ux)]);
  }
  if (a.floatOnnx) {
    const fx = new ort.Tensor('float32', Float32Array.from(codes, (v) => v / 256), shape);
    peers.push(['ort-fp32 (float reference, not exact)', await ortSession(a.floatOnnx, fx)]);
  }
  for (const p of peers) if (p[1]) contenders.push(p);
  const times = contenders.map(() => []);
  // Rounds of `block` consecutive runs per engine (engines interleaved round by round), each
  // block after a pause and one untimed run: an engine's pool threads spin for a while after its
  // last run (ORT 1.30's for 20-30 ms, measured from its threads' CPU time), and on 2 cores a
  // spinning neighbour halves the next engine's cores, so the pause (--gap-ms) is 50 ms.
  // --block 1 --gap-ms 0 is the old strict one-by-one alternation.
  const rounds = Math.ceil((a.warmup + a.runs) / a.block);
  for (let r = 0; r < rounds; ++r) {
    for (let k = 0; k < contenders.length; ++k) {
      await new Promise((res) => setTimeout(res, a.gapMs));
      if (a.block > 1) await contenders[k][1]();
      for (let j = 0; j < a.block; ++j) {
        const ms = await contenders[k][1]();
        const i = r * a.block + j;
        if (i >= a.warmup && times[k].length < a.runs) times[k].push(ms);
      }
    }
  }
  timers.forEach((t) => t.end());
  const info = cpu();
  const result = {name: a.name, input: hello.input, macs: hello.macs, threads: a.threads, batch: a.batch,
                  runs: a.runs, warmup: a.warmup, cpu: info.model, flags: info.flags,
                  ort: ort.env.versions.node, results: {}};
  console.log(`${a.name || a.f8}: batch ${a.batch}, ${c}x${h}x${w}, ${(hello.macs / 1e9).toFixed(3)} GMAC, ` +
              `${a.threads} threads each, ${a.warmup} warm-up + ${a.runs} runs interleaved in blocks of ${a.block}`);
  console.log('  engine                                  median ms    min ms   GMAC/s  images/s');
  contenders.forEach(([name], k) => {
    const s = stats(times[k]);
    const gmacs = hello.macs * a.batch / 1e6 / s.median;
    const ips = a.batch * 1000 / s.median;
    result.results[name] = {median_ms: s.median, min_ms: s.min, gmac_per_s: gmacs, images_per_s: ips};
    console.log('  ' + name.padEnd(38) + s.median.toFixed(2).padStart(10) + s.min.toFixed(2).padStart(10) +
                gmacs.toFixed(2).padStart(9) + ips.toFixed(1).padStart(10));
  });
  const ratio = (x, y) => result.results[x].median_ms / result.results[y].median_ms;
  result.ratios = {};
  for (const [f8] of contenders.filter(([name]) => name.startsWith('f8net'))) {
    for (const [peer] of contenders.filter(([name]) => !name.startsWith('f8net'))) {
      const r = ratio(f8, peer);
      result.ratios[f8 + ' / ' + peer] = r;
      console.log(`  ratio ${f8} / ${peer} (median latency): ${r.toFixed(2)}`);
    }
  }
  if (result.results['ort-int8']) result.f8net_over_ort_int8 = ratio(contenders[0][0], 'ort-int8');
  const fused = 'ort-int8 fused QLinear (not exact)';
  if (result.results[fused]) result.f8net_over_ort_int8_fused = ratio(contenders[0][0], fused);
  console.log(`  cpu: ${info.model}; flags: ${info.flags}`);
  console.log(JSON.stringify(result));
}

main().catch((e) => fail(e.message || String(e)));
