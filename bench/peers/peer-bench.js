#!/usr/bin/env node
// Peer benchmark: ONNX Runtime int8 (the exact QDQ export) and f8net's runtime (the same .f8, once
// per ISA in --f8net-isas), optionally ORT int8 on a fully fused QLinear graph of the same
// architecture (make-fused-qdq.py: the fastest ORT int8, NOT exact) and ORT fp32 on the float
// reference, timed interleaved in one run: batch 1 at the model's input size, T threads each (ORT
// intraOp T, interOp 1; f8net --threads T), warm-up, then >= 30 rounds of one inference each.
// Prints median/min latency, GMAC/s, the ratios f8net / each peer and the CPU (lscpu model and
// flags), then one JSON line.
//   peer-bench.js --f8 M.f8 --onnx M.onnx [--fused-onnx M-fused.onnx] [--float-onnx M-float.onnx]
//                 --timer build/.../f8net_time [--f8net-isas avx512vnni,avx2] [--threads 2]
//                 [--runs 30] [--warmup 5] [--name resnet18]
'use strict';
const {spawn, execSync} = require('child_process');
const path = require('path');
const readline = require('readline');

function fail(msg) {
  process.stderr.write('peer-bench: ' + msg + '\n');
  process.exit(1);
}

const a = {threads: 2, runs: 30, warmup: 5, name: '', f8netIsas: ''};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[i + 1];
for (const k of ['f8', 'onnx', 'timer']) if (!a[k]) fail('missing --' + k);
a.threads = Number(a.threads); a.runs = Number(a.runs); a.warmup = Number(a.warmup);
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

async function ortSession(file, input) {
  const session = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: 'all', intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential'});
  const feeds = {[session.inputNames[0]]: input};
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
  const timer = spawn(a.timer, [a.f8, '--threads', String(a.threads)],
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
  const n = c * h * w;
  const codes = new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24);
  const signed = hello.dtype === 'int8';
  const qInput = new ort.Tensor(signed ? 'int8' : 'uint8', signed ? Int8Array.from(codes, (v) => (v % 255) - 127) : codes, [1, c, h, w]);
  const contenders = timers.map((t, k) => [isas[k] ? 'f8net (' + isas[k] + ')' : 'f8net', t.run]);
  contenders.push(['ort-int8', await ortSession(a.onnx, qInput)]);
  if (a.fusedOnnx) {
    const ux = new ort.Tensor('uint8', codes, [1, c, h, w]);
    contenders.push(['ort-int8 fused QLinear (not exact)', await ortSession(a.fusedOnnx, ux)]);
  }
  if (a.floatOnnx) {
    const fx = new ort.Tensor('float32', Float32Array.from(codes, (v) => v / 256), [1, c, h, w]);
    contenders.push(['ort-fp32 (float reference, not exact)', await ortSession(a.floatOnnx, fx)]);
  }
  const times = contenders.map(() => []);
  for (let r = 0; r < a.warmup + a.runs; ++r) {
    for (let k = 0; k < contenders.length; ++k) {
      const ms = await contenders[k][1]();
      if (r >= a.warmup) times[k].push(ms);
    }
  }
  timers.forEach((t) => t.end());
  const info = cpu();
  const result = {name: a.name, input: hello.input, macs: hello.macs, threads: a.threads,
                  runs: a.runs, warmup: a.warmup, cpu: info.model, flags: info.flags,
                  ort: ort.env.versions.node, results: {}};
  console.log(`${a.name || a.f8}: batch 1, ${c}x${h}x${w}, ${(hello.macs / 1e9).toFixed(3)} GMAC, ` +
              `${a.threads} threads each, ${a.warmup} warm-up + ${a.runs} interleaved runs`);
  console.log('  engine                                  median ms    min ms   GMAC/s');
  contenders.forEach(([name], k) => {
    const s = stats(times[k]);
    result.results[name] = {median_ms: s.median, min_ms: s.min, gmac_per_s: hello.macs / 1e6 / s.median};
    console.log('  ' + name.padEnd(38) + s.median.toFixed(2).padStart(10) + s.min.toFixed(2).padStart(10) +
                (hello.macs / 1e6 / s.median).toFixed(2).padStart(9));
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
  result.f8net_over_ort_int8 = ratio(contenders[0][0], 'ort-int8');
  console.log(`  cpu: ${info.model}; flags: ${info.flags}`);
  console.log(JSON.stringify(result));
}

main().catch((e) => fail(e.message || String(e)));
