// Limits on YAML text before yaml-cpp builds a tree of it: a config (a file, an override, or the
// copy embedded in a checkpoint) may be at most kMaxYamlBytes long and expand to at most
// kMaxYamlNodes nodes with every alias counted at its full size, so an "alias bomb" (a few hundred
// bytes that expand exponentially) is refused at once instead of hanging. docs/limits.md.
#pragma once

#include <cstddef>
#include <string>

namespace f8net::qat::detail {

constexpr size_t kMaxYamlBytes = size_t{1} << 20;
constexpr size_t kMaxYamlNodes = 100000;

// Empty when `text` is within the limits, else the reason (one line). Syntax errors are left to
// the real parse (an empty result then).
std::string yaml_limit_violation(const std::string& text);

}  // namespace f8net::qat::detail
