// Builds F8NET.md §22's TV8 1x1 conv with the public API only, runs it through the installed
// runtime and checks the exact int32 accumulators: proves the package's headers and library work.
#include <cstdio>

#include "f8net/fixed.h"
#include "f8net/rt/interpreter.h"

int main() {
  namespace rt = f8net::rt;
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{2, 1, 1}, rt::DType::kUint8, 6};
  rt::Conv2dParams p;
  p.out_channels = 2;
  // TV8: weights [[51, -26], [3, 21]] at FL 4, bias [-2339, -461] at FL 10, input codes [52, 129].
  rt::add_conv2d(&m, 0, p, {51, -26, 3, 21}, {-2339, -461}, {4});
  rt::Interpreter it;
  rt::Status s = it.load(m);
  if (s.is_ok()) s = it.prepare({1, false});
  const uint8_t in[2] = {52, 129};
  if (s.is_ok()) s = it.set_input(in, sizeof(in));
  if (s.is_ok()) s = it.run();
  if (!s.is_ok()) {
    std::fprintf(stderr, "outside: %s\n", s.message().c_str());
    return 1;
  }
  const int32_t* acc = it.output().s32();
  const int32_t fl = it.output().fl[0];
  std::printf("outside: [%d, %d] at FL %d\n", acc[0], acc[1], fl);
  // TV8 step 4: [-3041, 2404] at FL 10; requantized to unsigned FL 5 (step 5): [0, 75].
  const bool ok = acc[0] == -3041 && acc[1] == 2404 && fl == 10 &&
                  f8net::fixed::requantize(acc[1], 10, f8net::fixed::Format{8, 5, false}) == 75;
  return ok ? 0 : 1;
}
