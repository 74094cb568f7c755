// The f8net fixed-point core: formats, half-to-even rounding, requantization and the
// fractional-length rules of F8Net. Header-only, C++17, no dependencies. Training and the
// integer runtime both call it for every rounding and clamp, so they cannot disagree.
#pragma once

#include "f8net/fixed/blocked-sum.h"
#include "f8net/fixed/format.h"
#include "f8net/fixed/fraclen.h"
#include "f8net/fixed/rounding.h"
