// Status: how every fallible runtime call reports failure (no exceptions cross the rt API).
// An ok Status carries no message and never allocates; an error carries a code and one line of
// text meant for a person ("op 3 (Conv2d): weight code -128 at index 17 is outside [-127, 127]").
#pragma once

#include <string>
#include <utility>

namespace f8net::rt {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,     // a caller passed something unusable (null pointer, wrong size)
  kIoError = 2,             // the file system said no
  kInvalidModel = 3,        // the model (file or ModelDef) breaks a rule of docs/model-format.md
  kUnsupported = 4,         // well-formed but asks for something this runtime cannot do
  kOverflow = 5,            // an int32 accumulator could overflow: the model is refused
  kFailedPrecondition = 6,  // called in the wrong order (run before prepare)
};

class Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Returns from the enclosing function when `expr` is an error Status.
#define F8NET_RETURN_IF_ERROR(expr)         \
  do {                                      \
    ::f8net::rt::Status f8net_s_ = (expr);  \
    if (!f8net_s_.is_ok()) return f8net_s_; \
  } while (0)

}  // namespace f8net::rt
