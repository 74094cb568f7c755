// The .f8 writer: validates the model, then lays it out canonically (header, metadata, graph,
// 64-byte aligned data, each tensor blob 64-byte aligned, zero padding) and fills in the
// checksum last. Files are written atomically (atomic-file.h).
#include <array>
#include <string>
#include <vector>

#include "f8net/rt/model-file.h"
#include "format/byte-io.h"
#include "format/layout.h"

namespace f8net::rt {

uint64_t fnv1a64(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {

struct Blob {
  uint64_t offset = 0, count = 0;
};

void write_metadata(const Metadata& md, format::ByteWriter* w) {
  w->string(md.name);
  w->u32(static_cast<uint32_t>(md.preprocessing.mode));
  w->u32(md.preprocessing.replicate_gray ? 1 : 0);
  for (float v : md.preprocessing.mean) w->f32(v);
  for (float v : md.preprocessing.std) w->f32(v);
  w->u32(static_cast<uint32_t>(md.class_names.size()));
  for (const std::string& s : md.class_names) w->string(s);
  w->u32(static_cast<uint32_t>(md.provenance.size()));
  for (const auto& kv : md.provenance) {
    w->string(kv.first);
    w->string(kv.second);
  }
}

void write_op(const OpDef& op, const Blob blobs[3], uint32_t version, format::ByteWriter* w) {
  w->u32(static_cast<uint32_t>(op.type));
  w->i32(op.inputs[0]);
  w->i32(op.inputs[1]);
  w->i32(op.out_channels);
  for (int32_t v : {op.kernel_h, op.kernel_w, op.stride_h, op.stride_w, op.pad_h, op.pad_w,
                    op.dilation_h, op.dilation_w, op.groups}) {
    w->i32(v);
  }
  w->i32(op.out_fl);
  w->u32(op.out_signed ? 1 : 0);
  w->i32(op.shift);
  for (int k = 0; k < 3; ++k) {
    w->u64(blobs[k].offset);
    w->u64(blobs[k].count);
  }
  const bool has_bits = op.type == OpType::kRequantize || op.type == OpType::kConv2d ||
                        op.type == OpType::kFullyConnected;
  w->u32(version == format::kVersionWordBits && has_bits ? static_cast<uint32_t>(op.code_bits) : 0);
  w->zeros(12);
}

// Appends `bytes` to the data section at a 64-byte boundary (relative offset returned).
Blob add_blob(std::vector<uint8_t>* data, const void* p, size_t bytes, size_t count) {
  Blob b;
  if (count == 0) return b;
  data->resize(format::align_up(data->size()), 0);
  b.offset = data->size();
  b.count = count;
  const auto* src = static_cast<const uint8_t*>(p);
  data->insert(data->end(), src, src + bytes);
  return b;
}

}  // namespace

Status write_model(const ModelDef& model, std::vector<uint8_t>* out) {
  if (out == nullptr) return Status(StatusCode::kInvalidArgument, "write_model: null output");
  F8NET_RETURN_IF_ERROR(validate_model(model, nullptr));

  // Data section first (the op records need the blob offsets).
  std::vector<uint8_t> data;
  std::vector<std::array<Blob, 3>> blobs(model.ops.size());
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const OpDef& op = model.ops[i];
    blobs[i][0] = add_blob(&data, op.weights.data(), op.weights.size(), op.weights.size());
    std::vector<uint8_t> le;
    format::ByteWriter bw(&le);
    for (int32_t b : op.bias) bw.i32(b);
    blobs[i][1] = add_blob(&data, le.data(), le.size(), op.bias.size());
    std::vector<int8_t> wfl;  // validated to 0..7 above: one byte each in the file
    for (int32_t f : op.weight_fl) wfl.push_back(static_cast<int8_t>(f));
    blobs[i][2] = add_blob(&data, wfl.data(), wfl.size(), wfl.size());
  }

  out->clear();
  format::ByteWriter w(out);
  w.bytes(format::kMagic, sizeof(format::kMagic));
  // Version 1 while every code is 8 bits wide, so 8-bit models stay readable by older runtimes.
  uint32_t version = format::kVersion;
  for (const OpDef& op : model.ops) {
    if (op.code_bits != 8) version = format::kVersionWordBits;
  }
  w.u32(version);
  w.u32(format::kHeaderSize);
  w.pad_to(format::kHeaderSize);  // sizes and checksum patched below

  const uint64_t meta_offset = w.size();
  write_metadata(model.metadata, &w);
  const uint64_t graph_offset = w.size();
  const InputDef& in = model.input;
  w.u32(static_cast<uint32_t>(in.shape.c));
  w.u32(static_cast<uint32_t>(in.shape.h));
  w.u32(static_cast<uint32_t>(in.shape.w));
  w.u32(static_cast<uint32_t>(in.dtype));
  w.i32(in.fl);
  w.u32(static_cast<uint32_t>(model.ops.size()));
  w.zeros(8);
  for (size_t i = 0; i < model.ops.size(); ++i)
    write_op(model.ops[i], blobs[i].data(), version, &w);
  const uint64_t graph_end = w.size();
  w.pad_to(format::align_up(graph_end));
  const uint64_t data_offset = w.size();
  w.bytes(data.data(), data.size());

  w.patch_u64(format::kOffFileSize, out->size());
  w.patch_u64(format::kOffMetadataOffset, meta_offset);
  w.patch_u64(format::kOffMetadataSize, graph_offset - meta_offset);
  w.patch_u64(format::kOffGraphOffset, graph_offset);
  w.patch_u64(format::kOffGraphSize, graph_end - graph_offset);
  w.patch_u64(format::kOffDataOffset, data_offset);
  w.patch_u64(format::kOffDataSize, data.size());
  w.patch_u64(format::kOffChecksum,
              fnv1a64(out->data() + format::kHeaderSize, out->size() - format::kHeaderSize));
  return Status::ok();
}

Status write_model_file(const ModelDef& model, const std::string& path) {
  std::vector<uint8_t> bytes;
  F8NET_RETURN_IF_ERROR(write_model(model, &bytes));
  return write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace f8net::rt
