// The C API: a thin shell over Interpreter that turns Status into -1 plus a thread-local error
// string. No exception can escape: allocations at load time are wrapped, run() never allocates.
#include <new>
#include <string>

#include "f8net/rt/c_api.h"
#include "f8net/rt/interpreter.h"

struct f8net_model {
  f8net::rt::Interpreter interpreter;
  bool has_output = false;  // a run succeeded and no later run failed
};

namespace {

thread_local std::string g_last_error;

int fail(const std::string& message) {
  try {
    g_last_error = message;
  } catch (...) {
  }
  return -1;
}
int fail(const f8net::rt::Status& s) { return fail(s.message()); }

template <typename LoadFn>
int load_with(int num_threads, f8net_model** out, LoadFn load) {
  if (out == nullptr) return fail("f8net: null output handle");
  *out = nullptr;
  try {
    auto* m = new f8net_model;
    f8net::rt::Status s = load(m->interpreter);
    if (s.is_ok()) {
      f8net::rt::InterpreterOptions options;
      options.num_threads = num_threads;
      s = m->interpreter.prepare(options);
    }
    if (!s.is_ok()) {
      delete m;
      return fail(s);
    }
    *out = m;
    g_last_error.clear();
    return 0;
  } catch (const std::bad_alloc&) {
    return fail("f8net: out of memory while loading the model");
  } catch (...) {
    return fail("f8net: unexpected failure while loading the model");
  }
}

int copy_shape(const f8net::rt::Shape& s, int32_t dims[3]) {
  if (dims == nullptr) return fail("f8net: null dims");
  dims[0] = s.c;
  dims[1] = s.h;
  dims[2] = s.w;
  return 0;
}

}  // namespace

extern "C" {

int f8net_model_load_file(const char* path, int num_threads, f8net_model** out) {
  if (path == nullptr) return fail("f8net: null path");
  return load_with(num_threads, out,
                   [&](f8net::rt::Interpreter& it) { return it.load_file(path); });
}

int f8net_model_load_memory(const void* data, size_t size, int num_threads, f8net_model** out) {
  return load_with(num_threads, out, [&](f8net::rt::Interpreter& it) {
    return it.load_memory(static_cast<const uint8_t*>(data), size);
  });
}

void f8net_model_free(f8net_model* model) { delete model; }

int f8net_input_shape(const f8net_model* model, int32_t dims[3]) {
  if (model == nullptr) return fail("f8net: null model");
  return copy_shape(model->interpreter.input().shape, dims);
}

int f8net_input_dtype(const f8net_model* model) {
  if (model == nullptr) return fail("f8net: null model");
  return static_cast<int>(model->interpreter.input().dtype);
}

int f8net_input_fl(const f8net_model* model) {
  if (model == nullptr) return fail("f8net: null model");
  return model->interpreter.input().fl[0];
}

size_t f8net_input_bytes(const f8net_model* model) {
  if (model == nullptr) return 0;
  return model->interpreter.input().bytes();
}

int f8net_output_shape(const f8net_model* model, int32_t dims[3]) {
  if (model == nullptr) return fail("f8net: null model");
  return copy_shape(model->interpreter.output().shape, dims);
}

int f8net_run(f8net_model* model, const void* input, size_t size) {
  if (model == nullptr) return fail("f8net: null model");
  model->has_output = false;
  if (input == nullptr) return fail("f8net_run: null input");
  f8net::rt::Status s = model->interpreter.set_input(input, size);
  if (s.is_ok()) s = model->interpreter.run();
  if (!s.is_ok()) return fail(s);
  model->has_output = true;
  g_last_error.clear();  // no stale message after a success
  return 0;
}

int f8net_run_batch(f8net_model* model, const void* inputs, size_t n, int32_t* outputs) {
  if (model == nullptr) return fail("f8net: null model");
  model->has_output = false;  // run_batch leaves the single-image output undefined
  const f8net::rt::Status s = model->interpreter.run_batch(inputs, n, outputs);
  if (!s.is_ok()) return fail(s);
  g_last_error.clear();
  return 0;
}

const int32_t* f8net_output_data(const f8net_model* model) {
  if (model == nullptr) {
    fail("f8net: null model");
    return nullptr;
  }
  // Before a successful f8net_run the buffer holds nothing meaningful: no pointer to it.
  if (!model->has_output) {
    fail("f8net_output_data: no output yet (call f8net_run first; the last run failed?)");
    return nullptr;
  }
  return model->interpreter.output().s32();
}

int f8net_output_fl(const f8net_model* model, int32_t* fl, size_t n) {
  if (model == nullptr) return fail("f8net: null model");
  const f8net::rt::TensorView out = model->interpreter.output();
  const size_t c = static_cast<size_t>(out.shape.c);
  if (fl == nullptr && n > 0) return fail("f8net: null fl");
  for (size_t i = 0; i < c && i < n; ++i) fl[i] = out.fl[i];
  return static_cast<int>(c);
}

const char* f8net_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"
