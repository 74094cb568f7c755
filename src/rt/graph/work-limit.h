// The work limit of prepare(): a model file of a few kilobytes can declare a huge input, so the
// multiply-accumulates per image are bounded before any buffer is planned (docs/limits.md).
// Internal to f8net_rt.
#pragma once

#include <cstdint>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"

namespace f8net::rt {

// Multiply-accumulates of one image: the 8-bit ones and the wider ones together.
int64_t macs_per_image(const GraphInfo& info);

// Refuses a model whose MACs per image exceed `limit` (0: no limit), or the F8NET_MAX_GMAC
// environment variable's limit in units of 1e9 when it is set (it overrides `limit`).
Status check_work_limit(const GraphInfo& info, uint64_t limit);

}  // namespace f8net::rt
