// yaml-guard.h: one pass of yaml-cpp's event parser (linear in the text) that computes the
// expanded node count: each anchor remembers the size of its node, each alias adds that size,
// counts saturate at the limit so nothing overflows.
#include "yaml-guard.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace f8net::qat::detail {
namespace {

struct LimitExceeded {};

class NodeCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    const auto it = size_.find(anchor);
    add(it == size_.end() ? 1 : it->second);
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({anchor, 1});
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back({anchor, 1});
  }
  void OnMapEnd() override { close(); }

  size_t total = 0;

 private:
  struct Open {
    YAML::anchor_t anchor;
    size_t count;
  };
  void add(size_t n) {
    size_t& c = open_.empty() ? total : open_.back().count;
    c = std::min(kMaxYamlNodes + 1, c + n);
    if (c > kMaxYamlNodes) throw LimitExceeded{};
  }
  void leaf(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) size_[anchor] = 1;
    add(1);
  }
  void close() {
    const Open o = open_.back();
    open_.pop_back();
    if (o.anchor != YAML::NullAnchor) size_[o.anchor] = o.count;
    add(o.count);
  }
  std::vector<Open> open_;
  std::unordered_map<YAML::anchor_t, size_t> size_;
};

}  // namespace

std::string yaml_limit_violation(const std::string& text) {
  if (text.size() > kMaxYamlBytes) {
    return "the YAML text is " + std::to_string(text.size()) + " bytes, more than the limit of " +
           std::to_string(kMaxYamlBytes);
  }
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    NodeCounter counter;
    while (parser.HandleNextDocument(counter)) {
    }
  } catch (const LimitExceeded&) {
    return "the YAML expands to more than " + std::to_string(kMaxYamlNodes) +
           " nodes (aliases counted at full size): refused as a possible alias bomb";
  } catch (const YAML::Exception&) {
    return "";  // the real parse reports syntax errors with their position
  }
  return "";
}

}  // namespace f8net::qat::detail
