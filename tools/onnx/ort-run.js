#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, installed by scripts/install-deps into
// third_party/node) on raw input tensors and writes the outputs as raw float32, so C++ tests and
// `f8net verify --onnx` can compare them with f8net's integer logits. Prints one JSON line.
//   ort-run.js --model M.onnx --input X.bin --dtype uint8|int8|float32 --shape N,C,H,W
//              --output Y.bin [--opt all|extended|basic|disabled] [--optimized-model P.onnx]
//              [--threads T] [--batch B]
'use strict';
const fs = require('fs');
const path = require('path');

function fail(msg) {
  process.stderr.write('ort-run: ' + msg + '\n');
  process.exit(1);
}

function loadOrt() {
  const dir = process.env.F8NET_ORT_NODE_MODULES ||
              path.join(__dirname, '..', '..', 'third_party', 'node', 'node_modules');
  try {
    return require(path.join(dir, 'onnxruntime-node'));
  } catch (e) {
    fail('cannot load onnxruntime-node from ' + dir + ' (run scripts/install-deps): ' + e.message);
  }
}

function parseArgs(argv) {
  const a = {opt: 'all', threads: 1, batch: 256};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) fail('bad argument ' + k);
    a[k.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v;
  }
  for (const k of ['model', 'input', 'dtype', 'shape', 'output']) {
    if (!a[k]) fail('missing --' + k);
  }
  a.shape = a.shape.split(',').map(Number);
  a.threads = Number(a.threads);
  a.batch = Number(a.batch);
  if (a.shape.length < 2 || a.shape.some((d) => !Number.isInteger(d) || d < 1)) fail('bad --shape');
  return a;
}

const kLevels = {all: 'all', extended: 'extended', basic: 'basic', disabled: 'disabled'};
const kTypes = {uint8: Uint8Array, int8: Int8Array, float32: Float32Array};

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const Type = kTypes[a.dtype];
  if (!Type) fail('bad --dtype ' + a.dtype);
  if (!kLevels[a.opt]) fail('bad --opt ' + a.opt);
  const buf = fs.readFileSync(a.input);
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const n = a.shape[0];
  if (buf.length !== n * per * Type.BYTES_PER_ELEMENT) {
    fail(a.input + ' holds ' + buf.length + ' bytes, expected ' + n * per * Type.BYTES_PER_ELEMENT);
  }
  const all = new Type(buf.buffer, buf.byteOffset, n * per);
  const options = {
    graphOptimizationLevel: kLevels[a.opt],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (a.optimizedModel) options.optimizedModelFilePath = a.optimizedModel;
  const session = await ort.InferenceSession.create(a.model, options);
  const inName = session.inputNames[0], outName = session.outputNames[0];
  const chunks = [];
  let perOut = 0;
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < n; s += a.batch) {
    const b = Math.min(a.batch, n - s);
    const x = new ort.Tensor(a.dtype, all.slice(s * per, (s + b) * per), [b, ...a.shape.slice(1)]);
    const r = await session.run({[inName]: x});
    const y = r[outName];
    if (y.type !== 'float32') fail('output type ' + y.type + ', expected float32');
    perOut = y.data.length / b;
    chunks.push(Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.writeFileSync(a.output, Buffer.concat(chunks));
  process.stdout.write(JSON.stringify({images: n, outputs_per_image: perOut, opt: a.opt,
                                       ms: ms, ort: ort.env.versions.node}) + '\n');
}

main().catch((e) => fail(e.message || String(e)));
