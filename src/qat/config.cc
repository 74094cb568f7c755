// YAML configuration parsing and writing for `f8net train` (config.h), walking the one schema
// (config-schema.h). Range checks are in config-validate.cc. No LibTorch here.
#include "f8net/qat/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config-schema.h"
#include "yaml-guard.h"

namespace f8net::qat {
namespace {

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw ConfigError(origin + ": " + message);
}

std::string describe(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a mapping";
}

// Reads one leaf value, naming the key on a type mismatch.
struct Reader {
  const std::string& origin;
  const std::string& key;
  const YAML::Node& node;

  [[noreturn]] void type_error(const char* expected) const {
    fail(origin, "key '" + key + "': expected " + expected + ", got " + describe(node));
  }
  void read(std::string& out) const {
    if (node.IsNull()) {
      out.clear();
      return;
    }
    if (!node.IsScalar()) type_error("a string");
    out = node.Scalar();
  }
  void read(bool& out) const {
    if (!node.IsScalar()) type_error("true or false");
    const std::string s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
    } else {
      type_error("true or false");
    }
  }
  void read(int64_t& out) const {
    if (!node.IsScalar()) type_error("an integer");
    const std::string& s = node.Scalar();
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    if (ec != std::errc() || ptr != end || s.empty()) type_error("an integer");
  }
  static bool parse_double(const std::string& s, double& out) {
    if (s.empty()) return false;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end;
  }
  void read(double& out) const {
    if (!node.IsScalar() || !parse_double(node.Scalar(), out)) type_error("a number");
  }
  void read(std::vector<double>& out) const {
    std::vector<double> values;
    if (node.IsNull()) {
      out.clear();
      return;
    }
    if (node.IsScalar()) {  // one number: broadcast to all channels
      double v = 0;
      if (!parse_double(node.Scalar(), v)) type_error("a list of numbers");
      out = {v};
      return;
    }
    if (!node.IsSequence()) type_error("a list of numbers");
    for (const auto& item : node) {
      double v = 0;
      if (!item.IsScalar() || !parse_double(item.Scalar(), v)) type_error("a list of numbers");
      values.push_back(v);
    }
    out = std::move(values);
  }
  // quant.layer_bits: parse_config gathers the flattened "quant.layer_bits.<layer>.<field>" keys
  // into one mapping {layer: {weight: n, activation: n}} (layer names contain dots).
  void read(std::vector<LayerBitsConfig>& out) const {
    out.clear();
    if (node.IsNull()) return;
    if (!node.IsMap()) type_error("a mapping {layer: {weight: bits, activation: bits}}");
    for (const auto& kv : node) {
      LayerBitsConfig e;
      e.layer = kv.first.Scalar();
      for (const auto& f : kv.second) {
        const std::string field = f.first.Scalar();
        const std::string sub = key + "." + e.layer + "." + field;
        int64_t bits = 0;
        Reader{origin, sub, f.second}.read(bits);
        if (bits < 2 || bits > 8) fail(origin, "key '" + sub + "': must be in [2, 8]");
        (field == "weight" ? e.weight : e.activation) = bits;
      }
      out.push_back(std::move(e));
    }
  }
};

// Flattens nested mappings into dotted keys; leaves are scalars, sequences or nulls.
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
             std::map<std::string, YAML::Node>& out) {
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(origin, "keys must be plain names");
    const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap()) {
      flatten(kv.second, key, origin, out);
    } else {
      out[key] = kv.second;
    }
  }
}

// Moves the flattened keys "quant.layer_bits.<layer>.weight|activation" (the layer name may hold
// dots) into flat["quant.layer_bits"] as one mapping, sorted by layer name; anything else under
// quant.layer_bits is an error naming the key.
void gather_layer_bits(std::map<std::string, YAML::Node>& flat,
                       std::map<std::string, std::string>& where) {
  const std::string prefix = "quant.layer_bits";
  std::map<std::string, std::map<std::string, YAML::Node>> layers;
  std::string origin;
  if (const auto whole = flat.find(prefix); whole != flat.end() && whole->second.IsMap()) {
    // --set quant.layer_bits={fc: {weight: 4}}: the same keys, flattened here.
    const YAML::Node node = whole->second;
    const std::string from = where[prefix];
    flat.erase(whole);
    std::map<std::string, YAML::Node> sub;
    flatten(node, prefix, from, sub);
    for (auto& kv : sub) {
      flat[kv.first] = kv.second;
      where[kv.first] = from;
    }
  }
  for (auto it = flat.begin(); it != flat.end();) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0 ||
        (key.size() > prefix.size() && key[prefix.size()] != '.')) {
      ++it;
      continue;
    }
    origin = where[key];
    if (key.size() == prefix.size()) {
      if (!it->second.IsNull()) {
        fail(origin, "key '" + key +
                         "': expected a mapping {layer: {weight: bits, activation: "
                         "bits}}, got " +
                         describe(it->second));
      }
      it = flat.erase(it);
      continue;
    }
    const std::string rest = key.substr(prefix.size() + 1);
    const auto dot = rest.rfind('.');
    const std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (dot == std::string::npos || dot == 0 || (field != "weight" && field != "activation")) {
      fail(origin, "key '" + key +
                       "': expected {weight: bits} and/or {activation: bits} under "
                       "a layer name");
    }
    layers[rest.substr(0, dot)][field] = it->second;
    it = flat.erase(it);
  }
  if (layers.empty()) return;
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& [layer, fields] : layers) {
    YAML::Node f(YAML::NodeType::Map);
    for (const auto& [name, value] : fields) f[name] = value;
    node[layer] = f;
  }
  flat[prefix] = node;
  where[prefix] = origin;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& key, const std::vector<std::string>& keys) {
  std::string best;
  size_t best_d = 4;
  for (const auto& k : keys) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string format_double(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a float in YAML
  return s;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

struct Emitter {
  std::ostringstream out;
  std::string section;
  void key(const std::string& dotted, const std::string& value) {
    const auto dot = dotted.find('.');
    if (dot == std::string::npos) {
      section.clear();
      out << dotted << ": " << value << "\n";
      return;
    }
    const std::string sec = dotted.substr(0, dot);
    if (sec != section) {
      out << sec << ":\n";
      section = sec;
    }
    out << "  " << dotted.substr(dot + 1) << ": " << value << "\n";
  }
  void operator()(const std::string& k, const std::string& v) { key(k, quote(v)); }
  void operator()(const std::string& k, bool v) { key(k, v ? "true" : "false"); }
  void operator()(const std::string& k, int64_t v) { key(k, std::to_string(v)); }
  void operator()(const std::string& k, double v) { key(k, format_double(v)); }
  void operator()(const std::string& k, const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format_double(v[i]);
    key(k, s + "]");
  }
  void operator()(const std::string& k, const std::vector<LayerBitsConfig>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); ++i) {
      std::string fields;
      if (v[i].weight) fields += "weight: " + std::to_string(v[i].weight);
      if (v[i].activation) {
        fields += (fields.empty() ? "" : ", ") + std::string("activation: ") +
                  std::to_string(v[i].activation);
      }
      s += (i ? ", " : "") + quote(v[i].layer) + ": {" + fields + "}";
    }
    key(k, s + "}");
  }
};

}  // namespace

TrainConfig default_config() {
  TrainConfig c;
  c.pretrain.mode = "fp_pact";
  c.train.mode = "fixed";
  return c;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  TrainConfig c;
  detail::visit_schema(c, [&](const std::string& k, auto&) { keys.push_back(k); });
  return keys;
}

TrainConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& overrides,
                         const std::string& origin) {
  std::map<std::string, YAML::Node> flat;
  std::map<std::string, std::string> where;  // key -> origin of its value, for messages
  if (const std::string why = detail::yaml_limit_violation(yaml_text); !why.empty()) {
    fail(origin, why);
  }
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsNull()) {
      if (!root.IsMap()) fail(origin, "the top level must be a mapping of keys");
      flatten(root, "", origin, flat);
      for (const auto& kv : flat) where[kv.first] = origin;
    }
  } catch (const YAML::Exception& e) {
    fail(origin, std::string("invalid YAML: ") + e.what());
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail("--set", "'" + o + "' is not key=value");
    }
    const std::string key = o.substr(0, eq);
    if (const std::string why = detail::yaml_limit_violation(o.substr(eq + 1)); !why.empty()) {
      fail("--set " + key, why);
    }
    try {
      flat[key] = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail("--set " + key, std::string("invalid value: ") + e.what());
    }
    where[key] = "--set";
  }
  gather_layer_bits(flat, where);

  const std::vector<std::string> keys = config_keys();
  const std::set<std::string> known(keys.begin(), keys.end());
  std::set<std::string> sections;
  for (const auto& k : keys) {
    if (k.find('.') != std::string::npos) sections.insert(k.substr(0, k.find('.')));
  }
  for (const auto& kv : flat) {
    if (known.count(kv.first)) continue;
    if (sections.count(kv.first)) {
      if (kv.second.IsNull()) continue;  // an empty section, e.g. "quant:" with nothing under it
      fail(where[kv.first],
           "key '" + kv.first + "' is a section: expected a mapping, got " + describe(kv.second));
    }
    fail(where[kv.first], "unknown key '" + kv.first + "'" + suggestion(kv.first, keys));
  }

  TrainConfig config = default_config();
  detail::visit_schema(config, [&](const std::string& key, auto& field) {
    const auto it = flat.find(key);
    if (it == flat.end()) return;
    Reader{where[key], key, it->second}.read(field);
  });
  validate_config(config);
  return config;
}

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return parse_config(text.str(), overrides, path);
}

std::string config_to_yaml(const TrainConfig& config) {
  Emitter e;
  e.out << "# f8net effective training configuration (every key; see configs/README.md)\n";
  TrainConfig copy = config;
  detail::visit_schema(copy, [&](const std::string& k, auto& v) { e(k, v); });
  return e.out.str();
}

}  // namespace f8net::qat
