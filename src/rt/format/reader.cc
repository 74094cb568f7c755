// The .f8 reader. Order of checks: header (magic, version, sizes, canonical section layout),
// checksum, metadata, graph records and tensor blobs (bounds, alignment, counts), then
// validate_model(). Every read is bounds-checked and every size product is checked before use.
#include <cstdio>
#include <string>
#include <vector>

#include "f8net/rt/model-file.h"
#include "format/byte-io.h"
#include "format/layout.h"

namespace f8net::rt {
namespace {

constexpr size_t kMaxString = size_t{1} << 20;

Status bad(const std::string& msg) { return Status(StatusCode::kInvalidModel, msg); }

struct Sections {
  uint64_t meta_offset, meta_size, graph_offset, graph_size, data_offset, data_size;
  uint32_t version;
};

// The op types whose record carries a code word length (version 2, kOpCodeBits).
bool has_code_bits(OpType t) {
  return t == OpType::kRequantize || t == OpType::kConv2d || t == OpType::kFullyConnected;
}

Status read_header(const uint8_t* p, size_t size, Sections* s) {
  if (size < format::kHeaderSize) {
    return bad("file too short for an .f8 header (" + std::to_string(size) + " bytes, need " +
               std::to_string(format::kHeaderSize) + ")");
  }
  for (size_t i = 0; i < sizeof(format::kMagic); ++i) {
    if (p[i] != format::kMagic[i]) return bad("not an .f8 model file (bad magic)");
  }
  const uint32_t version = format::load_u32(p + format::kOffVersion);
  if (version != format::kVersion && version != format::kVersionWordBits) {
    return Status(StatusCode::kUnsupported, "unsupported .f8 format version " +
                                                std::to_string(version) + " (this runtime reads " +
                                                std::to_string(format::kVersion) + " and " +
                                                std::to_string(format::kVersionWordBits) + ")");
  }
  s->version = version;
  if (format::load_u32(p + format::kOffHeaderSize) != format::kHeaderSize) {
    return bad("bad header size");
  }
  const uint64_t file_size = format::load_u64(p + format::kOffFileSize);
  if (file_size != size) {
    return bad("file size is " + std::to_string(size) + " bytes but the header says " +
               std::to_string(file_size) + " (truncated or padded file)");
  }
  for (size_t i = format::kOffHeaderReserved; i < format::kHeaderSize; ++i) {
    if (p[i] != 0) return bad("reserved header bytes are not zero");
  }
  s->meta_offset = format::load_u64(p + format::kOffMetadataOffset);
  s->meta_size = format::load_u64(p + format::kOffMetadataSize);
  s->graph_offset = format::load_u64(p + format::kOffGraphOffset);
  s->graph_size = format::load_u64(p + format::kOffGraphSize);
  s->data_offset = format::load_u64(p + format::kOffDataOffset);
  s->data_size = format::load_u64(p + format::kOffDataSize);
  // Canonical layout: header | metadata | graph | pad to 64 | data = rest of the file.
  // Each comparison keeps every later sum below `size`, so nothing can wrap.
  if (s->meta_offset != format::kHeaderSize || s->meta_size > size - s->meta_offset ||
      s->graph_offset != s->meta_offset + s->meta_size || s->graph_size > size - s->graph_offset ||
      s->data_offset != format::align_up(s->graph_offset + s->graph_size) ||
      s->data_offset > size || s->data_size != size - s->data_offset) {
    return bad("section offsets/sizes are inconsistent with the file layout");
  }
  for (uint64_t i = s->graph_offset + s->graph_size; i < s->data_offset; ++i) {
    if (p[i] != 0) return bad("padding before the data section is not zero");
  }
  const uint64_t stored = format::load_u64(p + format::kOffChecksum);
  const uint64_t actual = fnv1a64(p + format::kHeaderSize, size - format::kHeaderSize);
  if (stored != actual) return bad("checksum mismatch (corrupted file)");
  return Status::ok();
}

Status read_metadata(const uint8_t* p, uint64_t size, Metadata* md) {
  format::ByteReader r(p, size);
  if (!r.string(&md->name, kMaxString)) return bad("metadata: bad model name");
  const uint32_t mode = r.u32();
  const uint32_t gray = r.u32();
  for (float& v : md->preprocessing.mean) v = r.f32();
  for (float& v : md->preprocessing.std) v = r.f32();
  if (!r.ok()) return bad("metadata: truncated preprocessing block");
  md->preprocessing.mode = static_cast<Preprocess>(mode);  // range-checked by validate_model
  if (gray > 1) return bad("metadata: replicate_gray must be 0 or 1");
  md->preprocessing.replicate_gray = gray == 1;
  const uint32_t n_classes = r.u32();
  if (!r.ok() || n_classes > r.remaining() / 4) return bad("metadata: bad class-name count");
  md->class_names.resize(n_classes);
  for (std::string& s : md->class_names) {
    if (!r.string(&s, kMaxString)) return bad("metadata: bad class name");
  }
  const uint32_t n_prov = r.u32();
  if (!r.ok() || n_prov > r.remaining() / 8) return bad("metadata: bad provenance count");
  md->provenance.resize(n_prov);
  for (auto& kv : md->provenance) {
    if (!r.string(&kv.first, kMaxString) || !r.string(&kv.second, kMaxString)) {
      return bad("metadata: bad provenance entry");
    }
  }
  if (!r.at_end()) return bad("metadata: trailing bytes");
  return Status::ok();
}

// Where one tensor blob was found, for the canonical-layout check after validation.
struct BlobPlace {
  std::string what;
  uint64_t offset = 0, bytes = 0;
};

// Copies a blob of `count` elements of `elem` bytes from the data section, little-endian.
template <typename T>
Status read_blob(const uint8_t* data, uint64_t data_size, uint64_t offset, uint64_t count,
                 const std::string& what, std::vector<BlobPlace>* places, std::vector<T>* out) {
  if (count == 0) {
    if (offset != 0) return bad(what + ": empty tensor with a non-zero offset");
    out->clear();
    return Status::ok();
  }
  if (offset % format::kAlignment != 0) return bad(what + ": tensor offset is not 64-byte aligned");
  if (offset > data_size || count > (data_size - offset) / sizeof(T)) {
    return bad(what + ": tensor (offset " + std::to_string(offset) + ", " + std::to_string(count) +
               " elements) lies outside the data section");
  }
  places->push_back({what, offset, count * sizeof(T)});
  out->resize(static_cast<size_t>(count));
  const uint8_t* p = data + offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (sizeof(T) == 1) {
      (*out)[i] = static_cast<T>(p[i]);
    } else {
      (*out)[i] = static_cast<T>(format::load_u32(p + 4 * i));
    }
  }
  return Status::ok();
}

Status read_op(const uint8_t* rec, const uint8_t* data, uint64_t data_size, size_t i,
               uint32_t version, std::vector<BlobPlace>* places, OpDef* op) {
  const std::string what = "op " + std::to_string(i);
  op->type = static_cast<OpType>(format::load_u32(rec + format::kOpType));  // checked later
  op->inputs[0] = static_cast<int32_t>(format::load_u32(rec + format::kOpInput0));
  op->inputs[1] = static_cast<int32_t>(format::load_u32(rec + format::kOpInput1));
  op->out_channels = static_cast<int32_t>(format::load_u32(rec + format::kOpOutChannels));
  int32_t* geometry[] = {&op->kernel_h, &op->kernel_w,   &op->stride_h,   &op->stride_w, &op->pad_h,
                         &op->pad_w,    &op->dilation_h, &op->dilation_w, &op->groups};
  for (size_t k = 0; k < 9; ++k) {
    *geometry[k] = static_cast<int32_t>(format::load_u32(rec + format::kOpKernelH + 4 * k));
  }
  op->out_fl = static_cast<int32_t>(format::load_u32(rec + format::kOpOutFl));
  const uint32_t out_signed = format::load_u32(rec + format::kOpOutSigned);
  if (out_signed > 1) return bad(what + ": out_signed must be 0 or 1");
  op->out_signed = out_signed == 1;
  op->shift = static_cast<int32_t>(format::load_u32(rec + format::kOpShift));
  // Version 1 has no code widths (every code is 8 bits, the field is reserved and zero);
  // version 2 gives one for Requantize, Conv2d and FC (range-checked by validate_model) and zero
  // for the other ops, whose in-memory default is 8.
  const uint32_t code_bits = format::load_u32(rec + format::kOpCodeBits);
  if (version == format::kVersionWordBits && has_code_bits(op->type)) {
    if (code_bits > 32) return bad(what + ": code word length " + std::to_string(code_bits));
    op->code_bits = static_cast<int32_t>(code_bits);
  } else if (code_bits != 0) {
    return bad(what + (version == format::kVersion
                           ? ": reserved bytes are not zero"
                           : ": carries a code word length it does not use"));
  }
  for (size_t k = format::kOpReserved; k < format::kOpRecordSize; ++k) {
    if (rec[k] != 0) return bad(what + ": reserved bytes are not zero");
  }
  F8NET_RETURN_IF_ERROR(read_blob(data, data_size, format::load_u64(rec + format::kOpWeights),
                                  format::load_u64(rec + format::kOpWeights + 8), what + " weights",
                                  places, &op->weights));
  F8NET_RETURN_IF_ERROR(read_blob(data, data_size, format::load_u64(rec + format::kOpBias),
                                  format::load_u64(rec + format::kOpBias + 8), what + " bias",
                                  places, &op->bias));
  std::vector<int8_t> wfl;  // one signed byte per FL in the file (validate_model: 0..7)
  F8NET_RETURN_IF_ERROR(read_blob(data, data_size, format::load_u64(rec + format::kOpWfl),
                                  format::load_u64(rec + format::kOpWfl + 8), what + " weight FLs",
                                  places, &wfl));
  op->weight_fl.assign(wfl.begin(), wfl.end());
  return Status::ok();
}

Status read_graph(const uint8_t* p, uint64_t size, const uint8_t* data, uint64_t data_size,
                  uint32_t version, std::vector<BlobPlace>* places, ModelDef* m) {
  format::ByteReader r(p, size);
  const uint32_t c = r.u32(), h = r.u32(), w = r.u32(), dtype = r.u32();
  const int32_t fl = r.i32();
  const uint32_t n_ops = r.u32();
  const uint64_t reserved = r.u64();
  if (!r.ok()) return bad("graph: truncated graph header");
  if (reserved != 0) return bad("graph: reserved bytes are not zero");
  if (c > static_cast<uint32_t>(kMaxDim) || h > static_cast<uint32_t>(kMaxDim) ||
      w > static_cast<uint32_t>(kMaxDim)) {
    return bad("graph: input shape [" + std::to_string(c) + "," + std::to_string(h) + "," +
               std::to_string(w) + "] has a dimension above " + std::to_string(kMaxDim));
  }
  m->input.shape = Shape{static_cast<int32_t>(c), static_cast<int32_t>(h), static_cast<int32_t>(w)};
  m->input.dtype = static_cast<DType>(dtype);  // checked by validate_model
  m->input.fl = fl;
  if (n_ops > static_cast<uint32_t>(kMaxOps))
    return bad("graph: too many ops (" + std::to_string(n_ops) + ")");
  if (size != format::kGraphHeaderSize + uint64_t{n_ops} * format::kOpRecordSize) {
    return bad("graph: section size does not match " + std::to_string(n_ops) + " op records");
  }
  m->ops.resize(n_ops);
  for (uint32_t i = 0; i < n_ops; ++i) {
    const uint8_t* rec = p + format::kGraphHeaderSize + uint64_t{i} * format::kOpRecordSize;
    F8NET_RETURN_IF_ERROR(read_op(rec, data, data_size, i, version, places, &m->ops[i]));
  }
  return Status::ok();
}

// The writer appends every op's blobs (weights, bias, weight FLs) in order, each at the next
// 64-byte boundary with zero padding, and the data section ends with the last blob. Checked after
// validation (so a wrong element count is reported as such): blobs that overlap, come out of
// order, leave gaps or are followed by trailing bytes would be data the model does not show.
Status check_canonical_blobs(const uint8_t* data, uint64_t data_size,
                             const std::vector<BlobPlace>& places) {
  uint64_t end = 0;
  for (const BlobPlace& b : places) {
    const uint64_t expected = format::align_up(end);
    if (b.offset != expected) {
      return bad(b.what + ": tensor at data offset " + std::to_string(b.offset) +
                 " is not where the canonical layout puts it (" + std::to_string(expected) +
                 "): overlapping, out-of-order or gapped tensors");
    }
    for (uint64_t i = end; i < b.offset; ++i) {
      if (data[i] != 0) return bad(b.what + ": padding before the tensor is not zero");
    }
    end = b.offset + b.bytes;
  }
  if (end != data_size) {
    return bad("data section has " + std::to_string(data_size - end) +
               " bytes after the last tensor (trailing data)");
  }
  return Status::ok();
}

}  // namespace

Status read_model(const uint8_t* data, size_t size, ModelDef* out, GraphInfo* info) {
  if (out == nullptr || (data == nullptr && size != 0)) {
    return Status(StatusCode::kInvalidArgument, "read_model: null argument");
  }
  if (data == nullptr) return bad("empty model file");
  Sections s{};
  F8NET_RETURN_IF_ERROR(read_header(data, size, &s));
  ModelDef m;
  F8NET_RETURN_IF_ERROR(read_metadata(data + s.meta_offset, s.meta_size, &m.metadata));
  std::vector<BlobPlace> places;
  F8NET_RETURN_IF_ERROR(read_graph(data + s.graph_offset, s.graph_size, data + s.data_offset,
                                   s.data_size, s.version, &places, &m));
  F8NET_RETURN_IF_ERROR(validate_model(m, info));
  F8NET_RETURN_IF_ERROR(check_canonical_blobs(data + s.data_offset, s.data_size, places));
  *out = std::move(m);
  return Status::ok();
}

Status read_model_file(const std::string& path, ModelDef* out, GraphInfo* info) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status(StatusCode::kIoError, "cannot open " + path);
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status(StatusCode::kIoError, "cannot read " + path);
  Status st = read_model(bytes.data(), bytes.size(), out, info);
  if (!st.is_ok()) return Status(st.code(), path + ": " + st.message());
  return Status::ok();
}

}  // namespace f8net::rt
