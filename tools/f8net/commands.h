// The f8net command-line tool: each subcommand lives in its own cmd-<name>.cc (or qat/cmd-<name>.cc
// when it needs LibTorch) and registers itself with F8NET_REGISTER_COMMAND, so main.cc never
// changes. The CLI holds no algorithm: it parses arguments and calls the libraries.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace f8net::cli {

// The largest --threads any command accepts (the runtime's own limit; docs/limits.md). A larger
// value is a usage error instead of minutes spent creating threads.
constexpr int kMaxThreads = 256;

// A failure to report as one line on stderr with exit code 1 (bad files, bad configs, ...).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A usage error: one line on stderr, exit code 2, like CLI11's own parse errors.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Adds one subcommand to `app`. Its callback runs the command and throws Error, UsageError or any
// std::exception on failure. `order` sorts --help (train 10, eval 20, export 30, verify 40,
// run 50, inspect 60, bench 70).
struct CommandRegistration {
  int order;
  std::function<void(CLI::App&)> add;
};
std::vector<CommandRegistration>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(int order, std::function<void(CLI::App&)> add) {
    command_registry().push_back({order, std::move(add)});
  }
};

#define F8NET_REGISTER_COMMAND(order, fn) \
  static ::f8net::cli::CommandRegistrar f8net_command_registrar_##fn { order, fn }

}  // namespace f8net::cli
