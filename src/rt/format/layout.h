// The byte layout of .f8 format versions 1 and 2 (docs/model-format.md is the normative text;
// this header is its single source in code). Version 2 adds the code word length of each op. All
// integers little-endian; offsets are absolute for sections and relative to the data section for
// tensors; tensor data is 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>

namespace f8net::rt::format {

constexpr uint8_t kMagic[8] = {'F', '8', 'N', 'E', 'T', 'M', 'D', 'L'};
constexpr uint32_t kVersion = 1;          // every code 8 bits wide (written when that is so)
constexpr uint32_t kVersionWordBits = 2;  // adds kOpCodeBits (written when a width is not 8)
constexpr uint32_t kHeaderSize = 128;
constexpr uint32_t kGraphHeaderSize = 32;
constexpr uint32_t kOpRecordSize = 128;
constexpr uint64_t kAlignment = 64;

// Header field offsets.
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 8;
constexpr size_t kOffHeaderSize = 12;
constexpr size_t kOffFileSize = 16;
constexpr size_t kOffChecksum = 24;
constexpr size_t kOffMetadataOffset = 32;
constexpr size_t kOffMetadataSize = 40;
constexpr size_t kOffGraphOffset = 48;
constexpr size_t kOffGraphSize = 56;
constexpr size_t kOffDataOffset = 64;
constexpr size_t kOffDataSize = 72;
constexpr size_t kOffHeaderReserved = 80;  // 48 bytes, zero

// Op record field offsets (each record is kOpRecordSize bytes).
constexpr size_t kOpType = 0;
constexpr size_t kOpInput0 = 4;
constexpr size_t kOpInput1 = 8;
constexpr size_t kOpOutChannels = 12;
constexpr size_t kOpKernelH = 16;  // then kernel_w, stride_h, stride_w, pad_h, pad_w,
                                   // dilation_h, dilation_w, groups: 9 int32 in all
constexpr size_t kOpOutFl = 52;
constexpr size_t kOpOutSigned = 56;
constexpr size_t kOpShift = 60;
constexpr size_t kOpWeights = 64;    // u64 offset, u64 count (int8)
constexpr size_t kOpBias = 80;       // u64 offset, u64 count (int32)
constexpr size_t kOpWfl = 96;        // u64 offset, u64 count (int8)
constexpr size_t kOpCodeBits = 112;  // u32, version 2 only (zero in version 1): the word length
                                     // of Requantize's output / Conv2d and FC weight codes, 2..8;
                                     // zero for other op types
constexpr size_t kOpReserved = 116;  // 12 bytes, zero (version 1: bytes 112..127 all zero)

constexpr uint64_t align_up(uint64_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace f8net::rt::format
