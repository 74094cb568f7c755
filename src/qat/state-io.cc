// Named parameter/buffer archives and loading by name intersection (F8NET.md §19 item 21).
// Names are the module's dotted paths (named_parameters / named_buffers), identical in all modes.
#include "state-io.h"

#include <sstream>

#include "archive-check.h"
#include "file-io.h"

namespace f8net::qat {

void save_state(const torch::nn::Module& module, const std::string& path) {
  auto fill = [&](torch::serialize::OutputArchive& archive) {
    for (const auto& p : module.named_parameters(/*recurse=*/true)) {
      archive.write(p.key(), p.value().detach(), /*is_buffer=*/false);
    }
    for (const auto& b : module.named_buffers(/*recurse=*/true)) {
      archive.write(b.key(), b.value(), /*is_buffer=*/true);
    }
  };
  torch::serialize::OutputArchive plain;
  fill(plain);
  std::ostringstream bytes;
  plain.save_to(bytes);
  torch::serialize::InputArchive back;
  detail::load_archive_bytes(bytes.str(), path, &back);
  torch::serialize::OutputArchive archive;
  fill(archive);
  archive.write(detail::kChecksumKey, c10::IValue(detail::archive_digest(back)));
  std::ostringstream out;
  archive.save_to(out);
  write_file_atomic(path, out.str());  // temp file, fsync, rename: never a half-written file
}

LoadReport load_state_by_intersection(torch::nn::Module& module, const std::string& path) {
  torch::serialize::InputArchive archive;
  detail::load_archive_bytes(read_file(path), path, &archive);
  // Foreign archives (without a digest) are accepted; their tensors are still bounds-checked.
  detail::check_archive_tensors(archive, path);
  detail::verify_archive_digest(archive, path, /*required=*/false);
  LoadReport report;
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
    torch::Tensor value;
    if (!archive.try_read(name, value, is_buffer)) {
      report.missing.push_back(name);
      return;
    }
    if (value.sizes() != target.sizes()) {
      report.shape_mismatch.push_back(name);
      return;
    }
    target.copy_(value);
    report.loaded.push_back(name);
  };
  for (auto& p : module.named_parameters(true)) load(p.key(), p.value(), false);
  for (auto& b : module.named_buffers(true)) load(b.key(), b.value(), true);
  return report;
}

}  // namespace f8net::qat
