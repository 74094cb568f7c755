// libFuzzer target: the YAML config parser (parse_config), the text of a file or of the config
// embedded in a checkpoint. Any input must give a config or a ConfigError, quickly.
#include <cstdint>
#include <string>

#include "f8net/qat/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    f8net::qat::parse_config(text, {}, "fuzz");
  } catch (const f8net::qat::ConfigError&) {
  }
  return 0;
}
