// Fixed-point formats (F8NET.md §2): a value is code * 2^-fl with an integer code in a
// symmetric signed range [-(2^(w-1)-1), 2^(w-1)-1] (the most negative code is never produced)
// or an unsigned range [0, 2^w-1]. Codes always fit in int32_t.
#pragma once

#include <cstdint>

namespace f8net::fixed {

struct Format {
  int word_bits = 8;  // n: 8 for weights/activations, 32 for biases
  int fl = 0;         // FL: 0..n-1 signed, 0..n unsigned
  bool is_signed = true;

  // Largest code: 2^(n-1)-1 signed, 2^n-1 unsigned.
  constexpr int64_t qmax() const {
    return is_signed ? (int64_t{1} << (word_bits - 1)) - 1 : (int64_t{1} << word_bits) - 1;
  }
  // Smallest code: -qmax() signed (symmetric), 0 unsigned.
  constexpr int64_t qmin() const { return is_signed ? -qmax() : 0; }
  // Largest FL the word allows: n-1 signed, n unsigned (F8NET.md §2).
  constexpr int max_fl() const { return is_signed ? word_bits - 1 : word_bits; }

  // A usable format: codes fit int32 (signed n in [2,32], unsigned n in [1,31]) and the FL is
  // within [0, max_fl()].
  constexpr bool valid() const {
    const bool word_ok =
        is_signed ? (word_bits >= 2 && word_bits <= 32) : (word_bits >= 1 && word_bits <= 31);
    return word_ok && fl >= 0 && fl <= max_fl();
  }

  static constexpr Format signed_int(int word_bits, int fl) { return Format{word_bits, fl, true}; }
  static constexpr Format unsigned_int(int word_bits, int fl) {
    return Format{word_bits, fl, false};
  }
};

constexpr bool operator==(const Format& a, const Format& b) {
  return a.word_bits == b.word_bits && a.fl == b.fl && a.is_signed == b.is_signed;
}
constexpr bool operator!=(const Format& a, const Format& b) { return !(a == b); }

// The formats F8Net uses (F8NET.md §15.1).
constexpr Format weight_format(int fl) { return Format{8, fl, true}; }
constexpr Format activation_format(int fl, bool is_signed) { return Format{8, fl, is_signed}; }
// Biases are int32 at FL = input FL + weight FL (F8NET.md §9).
constexpr Format bias_format(int fl) { return Format{32, fl, true}; }

}  // namespace f8net::fixed
