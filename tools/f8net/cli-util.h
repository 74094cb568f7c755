// Small helpers shared by the runtime-only commands: loading a model into an interpreter with
// errors turned into cli::Error, JSON string escaping and terminal-safe printing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/logits.h"

namespace f8net::cli {

// Loads and prepares `path`; throws Error("<path>: <reason>") on failure.
void load_interpreter(const std::string& path, int threads, rt::Interpreter* it);

// The one-line JSON a --json command prints (nlohmann's writer, the only JSON writer of the CLI);
// bytes that are not UTF-8 (a file name, say) become U+FFFD instead of failing the command.
std::string json_text(const nlohmann::json& j);
// `s` safe to print on a terminal: control bytes (below 0x20, and 0x7f) become \xNN, so text
// from a file (model names, class names, provenance) cannot move the cursor or recolour the
// screen. Other bytes (UTF-8 included) pass unchanged.
std::string printable(const std::string& s);

// Ranking logits lives in the runtime (f8net/rt/logits.h).
using rt::logit_value;
using rt::top_k;

}  // namespace f8net::cli
