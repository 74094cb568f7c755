// The runtime's requantize written in int32 ONNX ops (internal to f8net_rt_onnx; writer.cc uses
// it where a requantize's input is an int32 tensor, e.g. after the integer global sum pool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "builder.h"
#include "f8net/rt/model.h"

namespace f8net::rt::onnx_export {

// code = saturate(rne(sum >> sh[c])) in int32 ops, for a never-negative sum and sh[c] >= 0:
// q = sum / 2^sh, r = sum % 2^sh, q += r > 2^(sh-1) || (r == 2^(sh-1) && q odd).
// `sum` is value `src`'s int32 tensor at per-channel FLs `fl` (channel dims `dims`); returns the
// uint8 grid tensor of `op`'s output codes.
std::string integer_requantize(GraphBuilder& b, const std::string& sum, int32_t src,
                               const std::vector<int32_t>& fl, const std::vector<int64_t>& dims,
                               const OpDef& op);

}  // namespace f8net::rt::onnx_export
