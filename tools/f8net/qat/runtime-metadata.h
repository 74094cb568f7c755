// The .f8 metadata of a model exported from a training checkpoint: its name, how an 8-bit image
// becomes input codes (raw [0,1] pixels or the recipe's normalization, gray replication), class
// names and provenance.
#pragma once

#include <string>

#include "f8net/qat/checkpoint-model.h"
#include "f8net/rt/model.h"

namespace f8net::cli {

rt::Metadata runtime_metadata(const qat::CheckpointModel& cm, const std::string& checkpoint_path);

}  // namespace f8net::cli
