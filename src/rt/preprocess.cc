// image_to_codes(): raw01 copies pixels (code = rne(255 * k/255) = k, FL 8); normalized computes
// z = (k/255 - mean) / std in float32 like torchvision's ToTensor+Normalize, then
// code = saturate(rne(z * 2^FL), +-127) through fixed::quantize (F8NET.md §15.3, TV11).
#include "f8net/rt/preprocess.h"

#include "f8net/fixed/rounding.h"

namespace f8net::rt {

Status image_to_codes(const uint8_t* pixels, int32_t channels, const InputDef& input,
                      const Preprocessing& pre, void* codes) {
  if (pixels == nullptr || codes == nullptr) {
    return Status(StatusCode::kInvalidArgument, "image_to_codes: null pointer");
  }
  const Shape& s = input.shape;
  const bool replicate = channels == 1 && s.c > 1;
  if (channels != s.c && !(replicate && pre.replicate_gray)) {
    return Status(StatusCode::kInvalidArgument, "image has " + std::to_string(channels) +
                                                    " channel(s), the model expects " +
                                                    std::to_string(s.c));
  }
  const int64_t plane = int64_t{s.h} * s.w;
  for (int32_t c = 0; c < s.c; ++c) {
    const uint8_t* src = pixels + (replicate ? 0 : c * plane);
    if (pre.mode == Preprocess::kRaw01) {
      if (input.dtype != DType::kUint8 || input.fl != 8) {
        return Status(StatusCode::kInvalidArgument, "raw01 needs a uint8 input at FL 8");
      }
      uint8_t* dst = static_cast<uint8_t*>(codes) + c * plane;
      for (int64_t i = 0; i < plane; ++i) dst[i] = src[i];
    } else if (pre.mode == Preprocess::kNormalized && c < 3 && input.dtype == DType::kInt8) {
      int8_t* dst = static_cast<int8_t*>(codes) + c * plane;
      const fixed::Format f = fixed::activation_format(input.fl, true);
      const float mean = pre.mean[static_cast<size_t>(c)];
      const float sd = pre.std[static_cast<size_t>(c)];
      for (int64_t i = 0; i < plane; ++i) {
        const float z = normalized_pixel(src[i], mean, sd);
        dst[i] = static_cast<int8_t>(fixed::quantize(static_cast<double>(z), f));
      }
    } else {
      return Status(StatusCode::kInvalidArgument, pre.mode == Preprocess::kCodes
                                                      ? "the model takes input codes, not images"
                                                      : "unsupported preprocessing for this input");
    }
  }
  return Status::ok();
}

}  // namespace f8net::rt
