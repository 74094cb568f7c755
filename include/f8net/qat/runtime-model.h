// Export to the integer runtime: the runtime graph an exact evaluation recorded (exact.h), with
// the model's metadata, validated by the runtime's own rules. Every shape, signedness, word
// length and per-channel FL the runtime infers is checked against what the float64 evaluation
// computed, so a semantic mismatch between training and runtime is an error here rather than a
// wrong number later.
#pragma once

#include "f8net/qat/exact.h"
#include "f8net/rt/model.h"

namespace f8net::qat {

// Builds the runtime model. `metadata` supplies name, class names and provenance; its
// preprocessing must agree with the graph's input (raw01 <-> Preprocess::kRaw01; a normalized
// signed input <-> kNormalized or kCodes). Throws std::runtime_error with a one-line message
// when the graph cannot be expressed or the runtime's validation refuses it.
rt::ModelDef to_runtime_model(const ExactGraph& graph, const rt::Metadata& metadata);

}  // namespace f8net::qat
