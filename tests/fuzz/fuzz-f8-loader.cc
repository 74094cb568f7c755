// libFuzzer target: the .f8 loader, prepare and run. The checksum is fixed up before reading so
// mutations reach the checks behind it; every model that loads is run with the optimized kernels
// and with the reference kernels, and the two outputs must be identical (else abort).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model-file.h"

namespace rt = f8net::rt;

namespace {

bool run_once(const rt::ModelDef& m, bool reference, std::vector<uint8_t>* out) {
  rt::Interpreter it;
  if (!it.load(m).is_ok()) return false;
  rt::InterpreterOptions o;
  o.num_threads = 1;
  o.force_reference = reference;
  o.max_arena_bytes = uint64_t{16} << 20;  // keep each input cheap
  if (!it.prepare(o).is_ok()) return false;
  // Stay cheap: skip models with a lot of work per run.
  int64_t macs = 0;
  for (const rt::OpInfo& op : it.graph_info().ops) macs += op.macs;
  if (macs > (int64_t{1} << 22)) return false;
  std::vector<uint8_t> in(it.input().bytes(), 1);
  if (!it.set_input(in.data(), in.size()).is_ok() || !it.run().is_ok()) return false;
  const rt::TensorView o_view = it.output();
  const auto* p = static_cast<const uint8_t*>(o_view.data);
  out->assign(p, p + o_view.bytes());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> b(data, data + size);
  if (b.size() >= 128) {
    const uint64_t h = rt::fnv1a64(b.data() + 128, b.size() - 128);
    for (int i = 0; i < 8; ++i) b[24 + static_cast<size_t>(i)] = static_cast<uint8_t>(h >> (8 * i));
  }
  rt::ModelDef m;
  if (!rt::read_model(b.data(), b.size(), &m).is_ok()) return 0;
  std::vector<uint8_t> fast, ref;
  const bool ran_fast = run_once(m, false, &fast);
  const bool ran_ref = run_once(m, true, &ref);
  if (ran_fast != ran_ref || fast != ref) std::abort();  // optimized kernels disagree with ref
  return 0;
}
