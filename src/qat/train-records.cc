// Epoch records and stage progress as JSON (train-records.h).
#include "train-records.h"

namespace f8net::qat::detail {

using json = nlohmann::json;

json to_json(const EpochRecord& r) {
  return {{"stage", r.stage},
          {"mode", r.mode},
          {"epoch", r.epoch},
          {"iteration", r.iteration},
          {"lr", r.lr},
          {"train_loss", r.train_loss},
          {"train_top1", r.train_top1},
          {"val_loss", r.val_loss},
          {"val_top1", r.val_top1},
          {"val_top5", r.val_top5},
          {"seconds", r.seconds}};
}

EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.stage = j.at("stage").get<std::string>();
  r.mode = j.at("mode").get<std::string>();
  r.epoch = j.at("epoch").get<int64_t>();
  r.iteration = j.at("iteration").get<int64_t>();
  r.lr = j.at("lr").get<double>();
  r.train_loss = j.at("train_loss").get<double>();
  r.train_top1 = j.at("train_top1").get<double>();
  r.val_loss = j.at("val_loss").get<double>();
  r.val_top1 = j.at("val_top1").get<double>();
  r.val_top5 = j.at("val_top5").get<double>();
  r.seconds = j.at("seconds").get<double>();
  return r;
}

json state_to_json(const StageState& s) {
  json h = json::array();
  for (const auto& r : s.history) h.push_back(to_json(r));
  return {{"epoch", s.epoch},
          {"batch", s.batch},
          {"iteration", s.iteration},
          {"loss_sum", s.loss_sum},
          {"correct", s.correct},
          {"seen", s.seen},
          {"epoch_seconds", s.epoch_seconds},
          {"done", s.done},
          {"best_top1", s.best_top1},
          {"best_top5", s.best_top5},
          {"best_loss", s.best_loss},
          {"best_epoch", s.best_epoch},
          {"final_top1", s.final_top1},
          {"final_top5", s.final_top5},
          {"history", h}};
}

StageState state_from_json(const json& j) {
  StageState s;
  s.epoch = j.at("epoch").get<int64_t>();
  s.batch = j.at("batch").get<int64_t>();
  s.iteration = j.at("iteration").get<int64_t>();
  s.loss_sum = j.at("loss_sum").get<double>();
  s.correct = j.at("correct").get<int64_t>();
  s.seen = j.at("seen").get<int64_t>();
  s.epoch_seconds = j.at("epoch_seconds").get<double>();
  s.done = j.at("done").get<bool>();
  s.best_top1 = j.at("best_top1").get<double>();
  s.best_top5 = j.at("best_top5").get<double>();
  s.best_loss = j.at("best_loss").get<double>();
  s.best_epoch = j.at("best_epoch").get<int64_t>();
  s.final_top1 = j.at("final_top1").get<double>();
  s.final_top5 = j.at("final_top5").get<double>();
  for (const auto& r : j.at("history")) s.history.push_back(record_from_json(r));
  return s;
}

json model_to_json(const ModelOptions& m) {
  return {{"arch", m.arch},
          {"in_channels", m.in_channels},
          {"input_size", m.input_size},
          {"num_classes", m.num_classes},
          {"width_mult", m.width_mult}};
}

}  // namespace f8net::qat::detail
