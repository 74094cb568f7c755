// The .f8 metadata of a model exported from a training checkpoint: its name, how an 8-bit image
// becomes input codes (raw [0,1] pixels or the recipe's normalization, gray replication), class
// names and provenance. This is the training-to-runtime preprocessing contract: what is written
// here must be what training fed the model.
#pragma once

#include <string>

#include "f8net/qat/checkpoint-model.h"
#include "f8net/rt/model.h"

namespace f8net::qat {

// Throws std::runtime_error for a normalized input of more than 3 channels (the format's limit).
rt::Metadata runtime_metadata(const CheckpointModel& cm, const std::string& checkpoint_path);

}  // namespace f8net::qat
