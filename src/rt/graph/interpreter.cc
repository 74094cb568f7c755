// Interpreter: load = validate (and keep) the model; prepare = plan the arena, allocate it once,
// bind every op to its kernel and buffers, start the threads; run = check the input codes and
// call the prepared ops in order. run() performs no heap allocation. The ISA decides the
// engine: "ref" runs the IR op by op in CHW (the oracle); avx2, avx512 and avx512vnni run
// ops/fused-program.h with their row of kernels/fused-table.h.
#include "f8net/rt/interpreter.h"

#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "f8net/rt/model-file.h"
#include "graph/memory-plan.h"
#include "graph/work-limit.h"
#include "kernels/kernel-table.h"
#include "ops/prepared-op.h"
#include "threads/thread-pool.h"
#ifdef F8NET_HAVE_FUSED_KERNELS
#include "kernels/avx512vnni/vnni-kernels.h"
#include "kernels/fused-table.h"
#include "ops/fused-program.h"
#endif

namespace f8net::rt {

namespace {
constexpr int kMaxThreads = 256;
}  // namespace

struct Interpreter::Impl {
  ModelDef model;
  GraphInfo info;
  bool loaded = false;
  bool prepared = false;
  bool ran = false;
  std::unique_ptr<uint8_t[]> arena;
  uint64_t arena_bytes = 0;
  std::vector<uint8_t*> values;
  std::vector<ops::PreparedOp> ops;
  std::unique_ptr<ThreadPool> pool;
  kernels::Isa isa = kernels::Isa::kReference;
  bool fused = false;
  bool profiling = false;
  std::vector<double> stage_seconds;
#ifdef F8NET_HAVE_FUSED_KERNELS
  ops::FusedProgram program;
  // Copies of `program` for threads 1..T-1 (own arena, shared weights): run_batch gives each
  // thread whole images when a batch has at least T of them.
  std::vector<ops::FusedProgram> image_programs;
#endif
};

namespace {

// force_reference (option, F8NET_FORCE_REFERENCE=1, build) > options.isa > F8NET_ISA > best.
Status choose_isa(const InterpreterOptions& options, kernels::Isa* out) {
  if (options.force_reference || kernels::reference_forced_by_environment()) {
    *out = kernels::Isa::kReference;
    return Status::ok();
  }
  std::string name = options.isa;
  const char* env = std::getenv("F8NET_ISA");
  if (name.empty() && env != nullptr) name = env;
  if (name.empty()) {
    *out = kernels::best_isa();
    return Status::ok();
  }
  if (!kernels::parse_isa(name.c_str(), out)) {
    return Status(StatusCode::kInvalidArgument,
                  "unknown ISA '" + name + "' (ref, avx2, avx512, avx512vnni, avxvnni)");
  }
  if (!kernels::isa_available(*out)) {
    return Status(StatusCode::kUnsupported,
                  "ISA '" + name + "' is not available on this CPU or in this build (best: " +
                      kernels::isa_name(kernels::best_isa()) + ")");
  }
  return Status::ok();
}

// Signed codes are symmetric: -128 would break the overflow proof.
Status check_codes(const ModelDef& model, const GraphInfo& info, const uint8_t* codes) {
  if (model.input.dtype != DType::kInt8) return Status::ok();
  const int8_t* x = reinterpret_cast<const int8_t*>(codes);
  const int64_t n = info.values[0].shape.elements();
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == -128) {
      return Status(StatusCode::kInvalidArgument,
                    "input code -128 at index " + std::to_string(i) + " is outside [-127, 127]");
    }
  }
  return Status::ok();
}

#ifdef F8NET_HAVE_FUSED_KERNELS
// One program per extra thread for batches, when their arenas fit in `budget` bytes (else
// batches run image after image, each split over the threads). Returns the bytes allocated.
uint64_t prepare_image_programs(const ops::FusedProgram& primary, int threads, uint64_t budget,
                                std::vector<ops::FusedProgram>* out) {
  const uint64_t each = primary.arena_bytes + primary.scratch_stride;
  if (threads < 2 || each * static_cast<uint64_t>(threads - 1) > budget) return 0;
  out->resize(static_cast<size_t>(threads - 1));
  uint64_t bytes = 0;
  for (ops::FusedProgram& p : *out) {
    if (!ops::clone_fused_for_image(primary, &p).is_ok()) {
      out->clear();
      return 0;
    }
    bytes += p.arena_bytes + p.scratch_bytes;
  }
  return bytes;
}

struct BatchWork {
  ops::FusedProgram* primary;
  std::vector<ops::FusedProgram>* clones;
  const uint8_t* in;
  int32_t* out;
  size_t in_bytes, out_count;
};

// Images [begin, end) on the running thread's program (0: the primary, k: clone k - 1), every
// stage single-threaded. The pool balances images between threads; each image's bytes are the
// same on any program.
void run_images(const void* ctx, int64_t begin, int64_t end, int thread) {
  const BatchWork& w = *static_cast<const BatchWork*>(ctx);
  ops::FusedProgram& p = thread == 0 ? *w.primary : (*w.clones)[static_cast<size_t>(thread - 1)];
  for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
    std::copy(w.in + i * w.in_bytes, w.in + (i + 1) * w.in_bytes, p.buffers[0]);
    for (const ops::FusedStage& st : p.stages) ops::run_stage(st, nullptr);
    const auto* y = reinterpret_cast<const int32_t*>(p.output);
    std::copy(y, y + w.out_count, w.out + i * w.out_count);
  }
}
#endif

}  // namespace

double measure_int8_peak_gmacs_per_core() {
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (kernels::isa_available(kernels::Isa::kAvx512Vnni))
    return kernels::avx512vnni::vnni_peak_gmacs();
#endif
  return 0.0;
}

Interpreter::Interpreter() : impl_(new Impl) {}
Interpreter::~Interpreter() = default;

Status Interpreter::load(ModelDef model) {
  Impl fresh;
  F8NET_RETURN_IF_ERROR(validate_model(model, &fresh.info));
  fresh.model = std::move(model);
  fresh.loaded = true;
  *impl_ = std::move(fresh);
  return Status::ok();
}

Status Interpreter::load_file(const std::string& path) {
  ModelDef m;
  F8NET_RETURN_IF_ERROR(read_model_file(path, &m));
  return load(std::move(m));
}

Status Interpreter::load_memory(const uint8_t* data, size_t size) {
  ModelDef m;
  F8NET_RETURN_IF_ERROR(read_model(data, size, &m));
  return load(std::move(m));
}

Status Interpreter::prepare(const InterpreterOptions& options) {
  Impl& s = *impl_;
  if (!s.loaded) return Status(StatusCode::kFailedPrecondition, "prepare() before load()");
  if (options.num_threads < 0 || options.num_threads > kMaxThreads) {
    return Status(StatusCode::kInvalidArgument,
                  "num_threads must be in [0, 256], got " + std::to_string(options.num_threads));
  }
  s.prepared = false;
  s.ran = false;
  F8NET_RETURN_IF_ERROR(check_work_limit(s.info, options.max_macs_per_image));
  F8NET_RETURN_IF_ERROR(choose_isa(options, &s.isa));
  int threads = options.num_threads;
  if (threads == 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads < 1) threads = 1;
  if (threads > kMaxThreads) threads = kMaxThreads;
  if (s.pool == nullptr || s.pool->size() != threads) {
    s.pool.reset();
    s.pool.reset(new ThreadPool(threads));
  }
  s.fused = false;
#ifdef F8NET_HAVE_FUSED_KERNELS
  const kernels::FusedKernels* fused_row = kernels::fused_kernels(s.isa);
  s.fused = fused_row != nullptr;
  if (s.fused && !ops::fused_supports(s.model)) {
    // A kernel shape the fused engine lacks (depthwise over 64 taps): run op by op instead.
    s.fused = false;
    s.isa = kernels::isa_available(kernels::Isa::kAvx2) ? kernels::Isa::kAvx2
                                                        : kernels::Isa::kReference;
  }
#endif
  s.arena.reset();
  s.ops.clear();
#ifdef F8NET_HAVE_FUSED_KERNELS
  s.image_programs.clear();
  s.program = ops::FusedProgram{};
  if (s.fused) {
    const Status st = ops::prepare_fused(s.model, s.info, *fused_row, threads,
                                         options.max_arena_bytes, &s.program);
    if (st.is_ok()) {
      s.arena_bytes = s.program.arena_bytes + s.program.scratch_bytes;
      if (s.arena_bytes < options.max_arena_bytes) {
        s.arena_bytes += prepare_image_programs(
            s.program, threads, options.max_arena_bytes - s.arena_bytes, &s.image_programs);
      }
      s.values.assign(1, s.program.buffers[0]);
      s.stage_seconds.assign(s.program.stages.size(), 0.0);
      s.prepared = true;
      return Status::ok();
    }
    if (st.code() != StatusCode::kUnsupported) return st;
    // Over the arena limit with the fused engine's NHWC buffers and im2col scratch (a huge K):
    // the op-by-op engine needs less memory and applies its own limit below.
    s.program = ops::FusedProgram{};
    s.fused = false;
    s.isa = kernels::isa_available(kernels::Isa::kAvx2) ? kernels::Isa::kAvx2
                                                        : kernels::Isa::kReference;
  }
#endif
  const size_t n_ops = s.model.ops.size();
  std::vector<uint64_t> sizes(n_ops + 1);
  std::vector<int32_t> last_use(n_ops + 1), written_at(n_ops + 1);
  for (size_t v = 0; v <= n_ops; ++v) {
    written_at[v] = static_cast<int32_t>(v) - 1;
    const ValueInfo& vi = s.info.values[v];
    sizes[v] = static_cast<uint64_t>(vi.shape.elements()) * dtype_size(vi.dtype);
    last_use[v] = written_at[v];  // a value nobody reads dies at once
  }
  for (size_t i = 0; i < n_ops; ++i) {
    const OpDef& op = s.model.ops[i];
    for (int k = 0; k < 2; ++k) {
      if (op.inputs[k] >= 0) last_use[static_cast<size_t>(op.inputs[k])] = static_cast<int32_t>(i);
    }
  }
  last_use[0] = static_cast<int32_t>(n_ops);  // input and output live for the whole run
  last_use[n_ops] = static_cast<int32_t>(n_ops);
  const MemoryPlan plan = plan_memory(sizes, written_at, last_use);
  if (plan.arena_bytes > options.max_arena_bytes) {
    return Status(StatusCode::kUnsupported,
                  "the model needs a " + std::to_string(plan.arena_bytes) + "-byte arena (limit " +
                      std::to_string(options.max_arena_bytes) + ")");
  }
  s.arena.reset(new (std::nothrow) uint8_t[plan.arena_bytes]);
  if (s.arena == nullptr) {
    return Status(StatusCode::kUnsupported,
                  "cannot allocate a " + std::to_string(plan.arena_bytes) + "-byte arena");
  }
  s.arena_bytes = plan.arena_bytes;
  s.values.resize(n_ops + 1);
  for (size_t v = 0; v <= n_ops; ++v) s.values[v] = s.arena.get() + plan.offsets[v];

  const bool force_ref = s.isa == kernels::Isa::kReference;
  s.ops.resize(n_ops);
  for (size_t i = 0; i < n_ops; ++i) {
    F8NET_RETURN_IF_ERROR(
        ops::prepare_op(s.model.ops[i], i, s.info, s.values, force_ref, &s.ops[i]));
  }
  s.stage_seconds.assign(n_ops, 0.0);
  s.prepared = true;
  return Status::ok();
}

void* Interpreter::input_data() { return impl_->prepared ? impl_->values[0] : nullptr; }

TensorView Interpreter::input() const {
  TensorView v;
  if (!impl_->loaded) return v;
  const ValueInfo& vi = impl_->info.values[0];
  v.dtype = vi.dtype;
  v.shape = vi.shape;
  v.data = impl_->prepared ? impl_->values[0] : nullptr;
  v.fl = vi.fl.data();
  return v;
}

Status Interpreter::set_input(const void* codes, size_t bytes) {
  if (!impl_->prepared)
    return Status(StatusCode::kFailedPrecondition, "set_input() before prepare()");
  const size_t expected = input().bytes();
  if (codes == nullptr) return Status(StatusCode::kInvalidArgument, "set_input: null input");
  if (bytes != expected) {
    return Status(StatusCode::kInvalidArgument, "set_input: expected " + std::to_string(expected) +
                                                    " bytes, got " + std::to_string(bytes));
  }
  const auto* p = static_cast<const uint8_t*>(codes);
  std::copy(p, p + bytes, impl_->values[0]);
  return Status::ok();
}

Status Interpreter::run() {
  Impl& s = *impl_;
  if (!s.prepared) return Status(StatusCode::kFailedPrecondition, "run() before prepare()");
  F8NET_RETURN_IF_ERROR(check_codes(s.model, s.info, s.values[0]));
  using Clock = std::chrono::steady_clock;
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (s.fused) {
    for (size_t i = 0; i < s.program.stages.size(); ++i) {
      const Clock::time_point t0 = s.profiling ? Clock::now() : Clock::time_point{};
      ops::run_stage(s.program.stages[i], s.pool.get());
      if (s.profiling)
        s.stage_seconds[i] += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    s.ran = true;
    return Status::ok();
  }
#endif
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const Clock::time_point t0 = s.profiling ? Clock::now() : Clock::time_point{};
    ops::run_op(s.ops[i], s.pool.get());
    if (s.profiling) s.stage_seconds[i] += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  s.ran = true;
  return Status::ok();
}

Status Interpreter::run_batch(const void* inputs, size_t n, int32_t* outputs) {
  if (!impl_->prepared)
    return Status(StatusCode::kFailedPrecondition, "run_batch() before prepare()");
  if (n > 0 && (inputs == nullptr || outputs == nullptr)) {
    return Status(StatusCode::kInvalidArgument, "run_batch: null inputs or outputs");
  }
  Impl& s = *impl_;
  const size_t in_bytes = input().bytes();
  const size_t out_count = static_cast<size_t>(s.info.values.back().shape.elements());
  const auto* in = static_cast<const uint8_t*>(inputs);
  size_t i = 0;
#ifdef F8NET_HAVE_FUSED_KERNELS
  const int threads = s.pool->size();
  if (s.fused && !s.profiling && !s.image_programs.empty() && n >= static_cast<size_t>(threads)) {
    // Whole images per thread for the valid images before the first invalid one (which the
    // loop below reports with its index).
    size_t whole = 0;
    while (whole < n && check_codes(s.model, s.info, in + whole * in_bytes).is_ok()) ++whole;
    if (whole >= static_cast<size_t>(threads)) {
      const BatchWork work{&s.program, &s.image_programs, in, outputs, in_bytes, out_count};
      s.pool->parallel_for(static_cast<int64_t>(whole), run_images, &work);
      // output() shows the last image run, as after run().
      std::copy(outputs + (whole - 1) * out_count, outputs + whole * out_count,
                reinterpret_cast<int32_t*>(const_cast<uint8_t*>(s.program.output)));
      s.ran = true;
      i = whole;
    }
  }
#endif
  for (; i < n; ++i) {
    std::copy(in + i * in_bytes, in + (i + 1) * in_bytes, static_cast<uint8_t*>(input_data()));
    const Status st = run();
    if (!st.is_ok()) return Status(st.code(), "image " + std::to_string(i) + ": " + st.message());
    const int32_t* y = static_cast<const int32_t*>(output().data);
    std::copy(y, y + out_count, outputs + i * out_count);
  }
  return Status::ok();
}

TensorView Interpreter::output() const {
  TensorView v;
  if (!impl_->loaded) return v;
  const ValueInfo& vi = impl_->info.values.back();
  v.dtype = vi.dtype;
  v.shape = vi.shape;
  v.data = impl_->prepared ? impl_->values.back() : nullptr;
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (impl_->prepared && impl_->fused) v.data = impl_->program.output;
#endif
  v.fl = vi.fl.data();
  return v;
}

const ModelDef& Interpreter::model() const { return impl_->model; }
const GraphInfo& Interpreter::graph_info() const { return impl_->info; }
int Interpreter::num_threads() const { return impl_->pool ? impl_->pool->size() : 0; }
size_t Interpreter::arena_bytes() const { return static_cast<size_t>(impl_->arena_bytes); }

const char* Interpreter::kernel_name(int op) const {
  if (!impl_->prepared || op < 0 || static_cast<size_t>(op) >= impl_->model.ops.size()) return "";
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (impl_->fused) {
    const int32_t st = impl_->program.stage_of_op[static_cast<size_t>(op)];
    return st < 0 ? "" : impl_->program.stages[static_cast<size_t>(st)].name.c_str();
  }
#endif
  return impl_->ops[static_cast<size_t>(op)].kernel->name;
}

const char* Interpreter::isa() const { return kernels::isa_name(impl_->isa); }

size_t Interpreter::packed_bytes() const {
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (impl_->fused) return static_cast<size_t>(impl_->program.packed_bytes);
#endif
  return 0;
}

void Interpreter::set_profiling(bool on) {
  impl_->profiling = on;
  for (double& t : impl_->stage_seconds) t = 0.0;
}

std::vector<StageInfo> Interpreter::stages() const {
  std::vector<StageInfo> out;
  if (!impl_->prepared) return out;
#ifdef F8NET_HAVE_FUSED_KERNELS
  if (impl_->fused) {
    for (size_t i = 0; i < impl_->program.stages.size(); ++i) {
      const ops::FusedStage& st = impl_->program.stages[i];
      out.push_back({st.name, st.ir_ops, st.macs, impl_->stage_seconds[i]});
    }
    return out;
  }
#endif
  for (size_t i = 0; i < impl_->ops.size(); ++i) {
    out.push_back({impl_->ops[i].kernel->name,
                   {static_cast<int32_t>(i)},
                   impl_->info.ops[i].macs,
                   impl_->stage_seconds[i]});
  }
  return out;
}

}  // namespace f8net::rt
