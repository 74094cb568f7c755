// Checkpoint save/load (checkpoint.h) on LibTorch's serialize archives; bytes are written with
// write_file_atomic, so a crash or a signal never leaves a half-written checkpoint. Every archive
// carries an integrity digest and is checked (bounds, digest) before use (archive-check.h).
#include "f8net/qat/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>
#include <sstream>
#include <stdexcept>

#include "archive-check.h"
#include "file-io.h"

namespace f8net::qat {

std::string torch_error_line(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const std::string& meta_json,
                     const std::string& config_yaml) {
  torch::Tensor rng;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng = gen.get_state();
  }
  // The archive is built twice: once without the digest, read back to compute it over exactly
  // what a reader will see, then with it (archive-check.h).
  auto serialize = [&](const std::string* checksum) {
    torch::serialize::OutputArchive archive;
    // Flat dotted names, the layout of state-io.h's save_state / load_state_by_intersection.
    for (const auto& p : model.named_parameters(/*recurse=*/true)) {
      archive.write(p.key(), p.value().detach(), /*is_buffer=*/false);
    }
    for (const auto& b : model.named_buffers(/*recurse=*/true)) {
      archive.write(b.key(), b.value(), /*is_buffer=*/true);
    }
    archive.write("f8net_meta", c10::IValue(meta_json));
    archive.write("f8net_config", c10::IValue(config_yaml));
    archive.write("f8net_rng", rng, /*is_buffer=*/true);
    if (optimizer) {
      torch::serialize::OutputArchive opt_archive;
      optimizer->save(opt_archive);
      archive.write("f8net_optimizer", opt_archive);
    }
    if (checksum != nullptr) archive.write(detail::kChecksumKey, c10::IValue(*checksum));
    std::ostringstream bytes;
    archive.save_to(bytes);
    return bytes.str();
  };
  std::string bytes;
  try {
    torch::serialize::InputArchive back;
    detail::load_archive_bytes(serialize(nullptr), path, &back);
    const std::string digest = detail::archive_digest(back);
    bytes = serialize(&digest);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": cannot serialize the checkpoint: " + torch_error_line(e));
  }
  write_file_atomic(path, bytes);
}

namespace {

// Opens the archive and checks it before anything reads a tensor: every tensor within its
// storage, and the integrity digest (which every f8net checkpoint carries).
void open_archive(const std::string& path, torch::serialize::InputArchive& archive) {
  std::string bytes = read_file(path);
  try {
    detail::load_archive_bytes(bytes, path, &archive);
    detail::check_archive_tensors(archive, path);
    detail::verify_archive_digest(archive, path, /*required=*/true);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not an f8net checkpoint (" + torch_error_line(e) + ")");
  }
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key,
                        const std::string& fallback) {
  c10::IValue v;
  if (!archive.try_read(key, v) || !v.isString()) return fallback;
  return v.toStringRef();
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  torch::serialize::InputArchive archive;
  open_archive(path, archive);
  CheckpointInfo info;
  try {
    info.meta_json = read_string(archive, "f8net_meta", "{}");
    info.config_yaml = read_string(archive, "f8net_config", "");
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not an f8net checkpoint (" + torch_error_line(e) + ")");
  }
  return info;
}

void load_checkpoint(const std::string& path, torch::nn::Module& model,
                     torch::optim::Optimizer* optimizer, bool restore_rng) {
  torch::serialize::InputArchive archive;
  open_archive(path, archive);
  try {
    torch::NoGradGuard no_grad;
    auto load = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
      torch::Tensor value;
      if (!archive.try_read(name, value, is_buffer)) {
        throw std::runtime_error(path + ": does not fit the model (no '" + name + "')");
      }
      if (value.sizes() != target.sizes()) {
        throw std::runtime_error(path + ": does not fit the model ('" + name + "' has shape " +
                                 c10::str(value.sizes()) + ", the model " +
                                 c10::str(target.sizes()) + ")");
      }
      target.copy_(value);
    };
    for (auto& p : model.named_parameters(true)) load(p.key(), p.value(), false);
    for (auto& b : model.named_buffers(true)) load(b.key(), b.value(), true);
    if (optimizer) {
      torch::serialize::InputArchive opt_archive;
      if (!archive.try_read("f8net_optimizer", opt_archive)) {
        throw std::runtime_error(path + ": the checkpoint has no optimizer state");
      }
      optimizer->load(opt_archive);
    }
    if (restore_rng) {
      torch::Tensor rng;
      if (!archive.try_read("f8net_rng", rng, /*is_buffer=*/true)) {
        throw std::runtime_error(path + ": the checkpoint has no RNG state");
      }
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": does not fit the model (" + torch_error_line(e) + ")");
  }
}

}  // namespace f8net::qat
