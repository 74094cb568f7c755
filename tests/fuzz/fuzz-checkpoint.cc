// libFuzzer target: the checkpoint loader. Every input first meets the zip container check
// (zip-check.h); with LibTorch in the build (F8NET_FUZZ_WITH_TORCH) an accepted container is then
// opened by LibTorch and its tensors bounds-checked and digested, the digest comparison skipped
// so the fuzzer's edits reach the tensors. Any input must end in an exception or a result.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "zip-check.h"
#ifdef F8NET_FUZZ_WITH_TORCH
#include "archive-check.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
#ifdef F8NET_FUZZ_WITH_TORCH
    torch::serialize::InputArchive archive;
    f8net::qat::detail::load_archive_bytes(bytes, "fuzz.pt", &archive);  // container checked
    f8net::qat::detail::check_archive_tensors(archive, "fuzz.pt");
    (void)f8net::qat::detail::archive_digest(archive);  // reads every tensor's bytes
#else
    f8net::qat::detail::check_zip_container(bytes, "fuzz.pt");
#endif
  } catch (const std::exception&) {  // std::runtime_error from f8net, c10::Error from LibTorch
  }
  return 0;
}
