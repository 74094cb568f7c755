// make-zoo-model: writes one random model of tests/support/model-zoo.h as an .f8 file, so
// benchmarks (f8net bench, bench/peers) run ResNet-18 / MobileNet-V2 shapes without LibTorch.
// The codes are random (no accuracy meaning); the file is written atomically by the rt writer.
// Usage: make-zoo-model NAME SIZE OUT.f8 [WIDTH] [SEED]   e.g. make-zoo-model resnet18 224 r18.f8
#include <cstdio>
#include <cstdlib>
#include <string>

#include "f8net/rt/model-file.h"
#include "support/model-zoo.h"

int main(int argc, char** argv) {
  namespace t = f8net::testing;
  if (argc < 4 || argc > 6) {
    std::fprintf(stderr, "usage: make-zoo-model NAME SIZE OUT.f8 [WIDTH] [SEED]\n  NAME:");
    for (const std::string& n : t::zoo_names()) std::fprintf(stderr, " %s", n.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  t::ZooOptions o;
  o.size = std::atoi(argv[2]);
  if (argc > 4) o.width = std::atof(argv[4]);
  if (argc > 5) o.seed = std::strtoull(argv[5], nullptr, 10);
  if (o.size < 8 || o.size > 1024 || !(o.width > 0.0 && o.width <= 4.0)) {
    std::fprintf(stderr, "make-zoo-model: SIZE must be in [8, 1024] and WIDTH in (0, 4]\n");
    return 2;
  }
  f8net::rt::ModelDef m;
  if (!t::zoo_model(argv[1], o, &m)) {
    std::fprintf(stderr, "make-zoo-model: unknown model '%s'\n", argv[1]);
    return 2;
  }
  const f8net::rt::Status s = f8net::rt::write_model_file(m, argv[3]);
  if (!s.is_ok()) {
    std::fprintf(stderr, "make-zoo-model: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
