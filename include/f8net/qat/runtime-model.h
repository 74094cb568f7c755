// Export to the integer runtime: translates the integer view of a trained model (integer-view.h)
// 1:1 into the runtime's graph (f8net/rt/model.h), carrying the very weight and bias codes the
// float64 exact evaluation used. The result is validated by the runtime's own rules, and every
// per-channel FL the runtime infers is checked against the view's, so a semantic mismatch between
// training and runtime is an error here rather than a wrong number later.
#pragma once

#include <string>

#include "f8net/qat/integer-view.h"
#include "f8net/rt/model.h"

namespace f8net::qat {

// Builds the runtime model. `metadata` supplies name, class names and provenance; its
// preprocessing must agree with the view's input (raw01 <-> Preprocess::kRaw01; a normalized
// signed input <-> kNormalized or kCodes). Throws std::runtime_error with a one-line message
// when the view cannot be expressed or the runtime's validation refuses it.
rt::ModelDef to_runtime_model(const IntegerView& view, const rt::Metadata& metadata);

}  // namespace f8net::qat
