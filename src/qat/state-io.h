// Saving and loading a module's named parameters and buffers (F8NET.md §19 item 21): a model of
// one mode loads another mode's file by name intersection (same names in every mode), e.g. a
// fixed model from a float/fp_pact checkpoint; missing entries (FL buffers) keep their values.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace f8net::qat {

// Writes every named parameter and buffer (recursively, dotted names) with
// torch::serialize::OutputArchive. Throws c10::Error on I/O failure.
void save_state(const torch::nn::Module& module, const std::string& path);

struct LoadReport {
  std::vector<std::string> loaded;          // names copied from the file
  std::vector<std::string> missing;         // module names absent from the file (left unchanged)
  std::vector<std::string> shape_mismatch;  // present with another shape (left unchanged)
};

// Copies every parameter/buffer of `module` whose name is in the file with the same shape.
LoadReport load_state_by_intersection(torch::nn::Module& module, const std::string& path);

}  // namespace f8net::qat
