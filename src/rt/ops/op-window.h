// The pooling/convolution window of an op (kernel, stride, padding), copied into any kernel args
// struct with those fields: the IR interpreter's KernelArgs and the fused engine's GemmConvArgs
// and DepthwiseArgs read it the same way.
#pragma once

#include "f8net/rt/model.h"

namespace f8net::rt::ops {

template <class Args>
void copy_window(const OpDef& op, Args* a) {
  a->kh = op.kernel_h;
  a->kw = op.kernel_w;
  a->sh = op.stride_h;
  a->sw = op.stride_w;
  a->ph = op.pad_h;
  a->pw = op.pad_w;
}

}  // namespace f8net::rt::ops
