// The configuration schema (config.h): the single list of keys. Parsing, --set overrides, the
// effective-config writer and config_keys() all walk it, so a key cannot be accepted by one and
// missed by another. Internal to f8net_qat.
#pragma once

#include <string>

#include "f8net/qat/config.h"

namespace f8net::qat::detail {

// Calls v(key, field) for every configurable field, in the order the effective config lists them.
template <typename Config, typename Visitor>
void visit_schema(Config& c, Visitor&& v) {
  v("model.arch", c.model.arch);
  v("model.width_mult", c.model.width_mult);
  v("model.stem", c.model.stem);
  v("model.resnet_variant", c.model.resnet_variant);
  v("model.relu6", c.model.relu6);

  v("quant.metric", c.quant.metric);
  v("quant.grid_search", c.quant.grid_search);
  v("quant.per_channel", c.quant.per_channel);
  v("quant.no_clipping", c.quant.no_clipping);
  v("quant.quant_avgpool", c.quant.quant_avgpool);
  v("quant.fl_momentum", c.quant.fl_momentum);
  v("quant.initial_input_fl", c.quant.initial_input_fl);
  v("quant.initial_weight_fl", c.quant.initial_weight_fl);
  v("quant.alpha_init", c.quant.alpha_init);
  v("quant.rescale_forward", c.quant.rescale_forward);
  v("quant.weight_bits", c.quant.weight_bits);
  v("quant.activation_bits", c.quant.activation_bits);
  v("quant.first_last_8bit", c.quant.first_last_8bit);
  v("quant.layer_bits", c.quant.layer_bits);

  v("data.dataset", c.data.dataset);
  v("data.dir", c.data.dir);
  v("data.input_size", c.data.input_size);
  v("data.channels", c.data.channels);
  v("data.normalize", c.data.normalize);
  v("data.mean", c.data.mean);
  v("data.std", c.data.std_dev);
  v("data.random_crop_padding", c.data.random_crop_padding);
  v("data.hflip", c.data.hflip);
  v("data.random_resized_crop", c.data.random_resized_crop);
  v("data.rrc_scale_min", c.data.rrc_scale_min);
  v("data.resize", c.data.resize);
  v("data.train_limit", c.data.train_limit);
  v("data.val_limit", c.data.val_limit);
  v("data.workers", c.data.workers);
  v("data.prefetch", c.data.prefetch);

  for (auto* stage : {&c.pretrain, &c.train}) {
    const std::string p = stage == &c.pretrain ? "pretrain." : "train.";
    v(p + "enabled", stage->enabled);
    v(p + "mode", stage->mode);
    v(p + "epochs", stage->epochs);
    v(p + "iterations", stage->iterations);
    v(p + "batch_size", stage->batch_size);
    v(p + "lr", stage->lr);
    v(p + "lr_schedule", stage->lr_schedule);
    v(p + "lr_milestones", stage->lr_milestones);
    v(p + "lr_gamma", stage->lr_gamma);
    v(p + "lr_decay_period", stage->lr_decay_period);
    v(p + "warmup_epochs", stage->warmup_epochs);
    v(p + "warmup_start", stage->warmup_start);
    v(p + "momentum", stage->momentum);
    v(p + "nesterov", stage->nesterov);
    v(p + "weight_decay", stage->weight_decay);
    v(p + "wd_scheme", stage->wd_scheme);
    v(p + "label_smoothing", stage->label_smoothing);
    v(p + "init", stage->init);
    v(p + "drop_last", stage->drop_last);
    v(p + "bn_calib_batches", stage->bn_calib_batches);
    v(p + "device", stage->device);
  }

  v("checkpoint.every_iterations", c.checkpoint.every_iterations);
  v("checkpoint.every_seconds", c.checkpoint.every_seconds);

  v("dist.sync_stats", c.dist.sync_stats);
  v("dist.timeout_seconds", c.dist.timeout_seconds);

  v("seed", c.seed);
  v("threads", c.threads);
  v("log_interval", c.log_interval);
}

}  // namespace f8net::qat::detail
