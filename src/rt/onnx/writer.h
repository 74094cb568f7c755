// Internal: the graph mapping (writer.cc) and the model wrapper/metadata (model-proto.cc).
#pragma once

#include <onnx/onnx_pb.h>

#include <vector>

#include "bounds.h"
#include "f8net/rt/model.h"
#include "f8net/rt/onnx.h"

namespace f8net::rt::onnx_export {

// Fills `graph` (nodes, initializers, input and output) for a validated model; counts go to
// `report`. Never fails: every validated model has an ONNX expression.
void build_graph(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                 const OnnxOptions& options, onnx::GraphProto* graph, OnnxExportReport* report);

// The exactness verdict of the bounds (fills bit_exact_in_ort, max_bound, inexact).
void judge_exactness(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                     OnnxExportReport* report);

}  // namespace f8net::rt::onnx_export
