// Writes the tiny models the C API test loads (tv9.f8, random-cnn.f8) into the directory given
// as argv[1] (created if missing). Registered with CTest as a fixture setup, so the C test never
// depends on C++.
#include <cstdio>
#include <filesystem>
#include <string>

#include "f8net/rt/model-file.h"
#include "support/tiny-models.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-test-models DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (const auto& [name, model] :
       {std::make_pair(std::string("tv9.f8"), f8net::testing::tv9_model()),
        std::make_pair(std::string("random-cnn.f8"), f8net::testing::random_cnn(9, 3))}) {
    const f8net::rt::Status s = f8net::rt::write_model_file(model, dir + "/" + name);
    if (!s.is_ok()) {
      std::fprintf(stderr, "make-test-models: %s\n", s.message().c_str());
      return 1;
    }
  }
  return 0;
}
