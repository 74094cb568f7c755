// apply_word_bits (models.h): every quantized layer's weight and input word lengths from
// QuantOptions, by module name. Invariant: layers that share a clip level (a master, §12.1) share
// the input width, and the first layer reads the 8-bit image, so its input width is always 8.
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"

namespace f8net::qat {

void apply_word_bits(NetImpl& net, const QuantOptions& quant) {
  std::vector<std::pair<std::string, QLayerImpl*>> layers;
  for (const auto& item : net.named_modules("", /*include_self=*/false)) {
    if (auto* layer = dynamic_cast<QLayerImpl*>(item.value().get())) {
      layers.emplace_back(item.key(), layer);
    }
  }
  if (layers.empty()) return;
  const std::string key = "quant.layer_bits.";
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool edge = quant.first_last_8bit && (i == 0 || i + 1 == layers.size());
    layers[i].second->set_word_bits(edge ? 8 : quant.weight_bits,
                                    edge || i == 0 ? 8 : quant.activation_bits);
  }
  for (const LayerBits& o : quant.layer_bits) {
    QLayerImpl* layer = nullptr;
    for (const auto& [name, l] : layers) {
      if (name == o.layer) layer = l;
    }
    if (!layer) {
      throw std::invalid_argument(key + o.layer +
                                  ": no quantized layer of that name (the first is '" +
                                  layers.front().first + "', the last '" + layers.back().first +
                                  "'; `f8net inspect` of an export lists them)");
    }
    if (o.activation != 0 && o.activation != 8 && layer == layers.front().second) {
      throw std::invalid_argument(key + o.layer +
                                  ".activation: the first layer reads the 8-bit image (8 bits)");
    }
    layer->set_word_bits(o.weight ? o.weight : layer->weight_bits(),
                         o.activation ? o.activation : layer->own_activation_bits());
  }
  for (const LayerBits& o : quant.layer_bits) {
    if (o.activation == 0) continue;
    for (const auto& [name, l] : layers) {
      if (name != o.layer || !l->master()) continue;
      if (l->master()->activation_bits() != o.activation) {
        std::string master;
        for (const auto& [n2, l2] : layers) {
          if (l2 == l->master()) master = n2;
        }
        throw std::invalid_argument(key + o.layer +
                                    ".activation: the layer shares its clip level with '" + master +
                                    "' (F8NET.md §12.1), so its input width is that layer's (" +
                                    std::to_string(l->master()->activation_bits()) + " bits)");
      }
    }
  }
}

}  // namespace f8net::qat
