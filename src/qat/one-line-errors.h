// LibTorch errors as one line (internal to f8net_qat): c10::Error carries a multi-line message
// with a C++ backtrace; every public entry point of the training library runs its LibTorch work
// through one_line_errors so a user sees one line.
#pragma once

#include <torch/torch.h>

#include <stdexcept>
#include <string>

#include "f8net/qat/checkpoint.h"

namespace f8net::qat::detail {

template <typename F>
auto one_line_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error("LibTorch: " + torch_error_line(e));
  }
}

}  // namespace f8net::qat::detail
