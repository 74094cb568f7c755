// Small helpers shared by the runtime-only commands: loading a model into an interpreter with
// errors turned into cli::Error, JSON string escaping, and top-k ranking of int32 logits that
// carry per-channel FLs (ranked by the exact value logit * 2^-FL, ties to the lower index).
#pragma once

#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"

namespace f8net::cli {

// Loads and prepares `path`; throws Error("<path>: <reason>") on failure.
void load_interpreter(const std::string& path, int threads, rt::Interpreter* it);

// `s` as a JSON string literal, quotes included.
std::string json_string(const std::string& s);
// `s` safe to print on a terminal: control bytes (below 0x20, and 0x7f) become \xNN, so text
// from a file (model names, class names, provenance) cannot move the cursor or recolour the
// screen. Other bytes (UTF-8 included) pass unchanged.
std::string printable(const std::string& s);

// Indices of the k largest output values (k clamped to the channel count), best first.
std::vector<int> top_k(const rt::TensorView& logits, int k);
// logit * 2^-FL of channel c, exact in double.
double logit_value(const rt::TensorView& logits, int c);

}  // namespace f8net::cli
