// f8net: train, evaluate, export, run, verify and inspect F8Net models. Errors are one line on
// stderr: exit code 2 for usage errors, 1 for everything else.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>

#include "cli-util.h"
#include "commands.h"
#ifdef F8NET_HAVE_QAT
#include "f8net/qat/allocator.h"
#endif

namespace f8net::cli {
std::vector<CommandRegistration>& command_registry() {
  static std::vector<CommandRegistration> registry;
  return registry;
}
}  // namespace f8net::cli

namespace {

// The promise of every command: an error is one printable line. Library messages are one line
// already; this also holds for anything that slips through with a backtrace (LibTorch appends
// one after a newline) or with bytes read from a file.
std::string error_line(const std::string& what) {
  std::string line = what.substr(0, what.find('\n'));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  if (line.empty()) line = "unknown error";
  return f8net::cli::printable(line);
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = f8net::cli;
#ifdef F8NET_HAVE_QAT
  // Training, checkpoint evaluation, export and verify allocate and free the same large tensors
  // over and over; keep that memory in the heap (results are unaffected).
  f8net::qat::keep_freed_memory_for_reuse();
#endif
  CLI::App app{"f8net: F8Net fixed-point 8-bit training and integer-only inference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "f8net 0.1.0");
  auto registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& command : registry) command.add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "f8net: error: " << error_line(e.what()) << " (see --help)\n";
    return 2;
  } catch (const cli::UsageError& e) {
    std::cerr << "f8net: error: " << error_line(e.what()) << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "f8net: error: " << error_line(e.what()) << "\n";
    return 1;
  }
  return 0;
}
