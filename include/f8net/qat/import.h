// Importing pretrained float weights (docs/import.md): a `torch.save` state dict of a torchvision
// or pytorchcv model becomes an f8net float checkpoint that `eval`, `train.init` and the tiny
// fine-tuning recipes read. Every f8net tensor is mapped from one named source tensor; a missing,
// extra or mis-shaped tensor is an error unless strict is off (then listed). Nothing is written
// unless every check passed; the checkpoint is written atomically with its integrity digest.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "f8net/qat/models.h"

namespace f8net::qat {

// The tensors of a `torch.save` file (zip format, PyTorch >= 1.6), read by a restricted unpickler:
// only dicts, lists, tuples, scalars, strings and tensors are built, no other Python object.
struct StateDict {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;  // in file order, contiguous CPU
  std::vector<std::string> other_keys;  // top-level entries that are not tensors
  std::string unwrapped;  // "state_dict" when the tensors sat under that key of a checkpoint dict
};

// Throws std::runtime_error("<path>: ...", one line) for a file that is not a torch.save zip
// archive, a pickle that is not a dict with string keys, an object other than plain data and
// tensors, or a tensor outside its storage.
StateDict read_torch_state_dict(const std::string& path);

struct ImportOptions {
  std::string from;         // "torchvision" | "pytorchcv"
  std::string arch;         // the source's model name, see import_arch_names()
  std::string weights;      // the torch.save file
  std::string out;          // the f8net checkpoint to write
  bool strict = true;       // false: skip extra/missing/mis-shaped tensors (listed in the report)
  int64_t num_classes = 0;  // 0: from the source's classifier
  // ResNets: "imagenet" (7x7/2 conv1 + max pool) or "cifar" (the small-image adaptation: a 3x3/1
  // conv1 and no max pool, which a state dict cannot show, so it is stated here).
  std::string stem = "imagenet";
  // `key=value` settings of the embedded config (config.h) on top of the import's defaults
  // (ImageFolder, input 224, ImageNet mean/std): the data an `eval --checkpoint` of the import
  // reads. model.*, data.normalize and quant.rescale_forward are the import's.
  std::vector<std::string> overrides;
};

struct ImportReport {
  ModelOptions model;                // the float f8net model written (make_model + load_checkpoint)
  std::string config_yaml;           // its embedded config
  int64_t tensors_imported = 0;      // f8net tensors copied from the source
  std::vector<std::string> ignored;  // source tensors with no float meaning (num_batches_tracked)
  std::vector<std::string> skipped;  // strict off: source tensors not used
  std::vector<std::string> kept_init;  // strict off: f8net tensors left at their initialization
  std::vector<std::string> notes;      // architectural notes (dropout, pooling, ReLU6)
};

// The model names accepted for `from` ("torchvision" or "pytorchcv"); empty for another source.
std::vector<std::string> import_arch_names(const std::string& from);

// Reads options.weights, maps it, checks it and writes options.out. Throws std::runtime_error
// with a one-line message; options.out is then unchanged.
ImportReport import_weights(const ImportOptions& options);

}  // namespace f8net::qat
