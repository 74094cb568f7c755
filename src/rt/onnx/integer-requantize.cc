// int32 ONNX requantize (integer-requantize.h).
#include "integer-requantize.h"

#include "f8net/fixed/format.h"

namespace f8net::rt::onnx_export {

std::string integer_requantize(GraphBuilder& b, const std::string& sum, int32_t src,
                               const std::vector<int32_t>& fl, const std::vector<int64_t>& dims,
                               const OpDef& op) {
  const size_t c = fl.size();
  std::vector<int32_t> div(c), half(c);
  for (size_t k = 0; k < c; ++k) {
    const int sh = fl[k] - op.out_fl;
    div[k] = int32_t{1} << sh;
    half[k] = sh == 0 ? 2 : int32_t{1} << (sh - 1);  // with sh 0, r is 0: never rounds
  }
  const std::string& s = sum;
  const std::string out = "v" + std::to_string(src) + "_rq";
  const std::string d = b.i32("shift_div", dims, div), h = b.i32("shift_half", dims, half);
  const std::string q = b.node("Div", {s, d}, out + "_q");
  const std::string r = b.node("Mod", {s, d}, out + "_r");
  const std::string odd =
      b.node("Equal", {b.node("Mod", {q, b.scalar_i32(2)}, out + "_odd"), b.scalar_i32(1)},
             out + "_isodd");
  const std::string tie =
      b.node("And", {b.node("Equal", {r, h}, out + "_tie"), odd}, out + "_tieodd");
  const std::string up = b.node("Or", {b.node("Greater", {r, h}, out + "_gt"), tie}, out + "_up");
  const std::string up_i = b.node("Cast", {up}, out + "_upi");
  b.attr_int("to", onnx::TensorProto::INT32);
  const std::string rounded = b.node("Add", {q, up_i}, out + "_rne");
  const int32_t hi =
      static_cast<int32_t>(fixed::Format{op.code_bits, op.out_fl, op.out_signed}.qmax());
  std::string codes = b.node("Clip", {rounded, b.scalar_i32(0), b.scalar_i32(hi)}, out + "_sat");
  if (op.out_signed) codes = b.node("Add", {codes, b.scalar_i32(128)}, out + "_grid");
  const std::string u8 = b.node("Cast", {codes}, "v" + std::to_string(src) + "_codes");
  b.attr_int("to", onnx::TensorProto::UINT8);
  return u8;
}

}  // namespace f8net::rt::onnx_export
