// libFuzzer target: the CLI's image decoding wrapper (load_image: OpenCV decode, channel and
// size handling, resize). Any input must give pixels or one cli::Error.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "commands.h"
#include "image-input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path = "/tmp/f8net-fuzz-img-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data + 1, 1, size - 1, f);
  std::fclose(f);
  const int channels = (data[0] & 1) ? 3 : 1;
  const bool resize = (data[0] & 2) != 0;
  try {
    f8net::cli::load_image(path, channels, 8, 8, resize);
  } catch (const f8net::cli::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
