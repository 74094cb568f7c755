// run_ort(): writes the codes to a private temp folder, runs node on ort-run.js with popen (the
// arguments are shell-quoted), reads the raw float32 outputs back and removes the folder.
#include "ort-subprocess.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "commands.h"

#ifndef F8NET_ORT_RUN_JS
#define F8NET_ORT_RUN_JS "tools/onnx/ort-run.js"
#endif

namespace f8net::cli {
namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

OrtRunResult run_ort(const OrtRunSpec& spec) {
  std::string script = spec.script;
  if (script.empty()) {
    const char* env = std::getenv("F8NET_ORT_RUN");
    script = env && *env ? env : F8NET_ORT_RUN_JS;
  }
  char tmpl[] = "/tmp/f8net-ort-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw Error("onnx: cannot create a temporary folder");
  const std::string dir = tmpl, in = dir + "/codes.bin", out = dir + "/out.bin";
  auto cleanup = [&] {
    std::remove(in.c_str());
    std::remove(out.c_str());
    ::rmdir(dir.c_str());
  };
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(spec.codes->data()),
            static_cast<std::streamsize>(spec.codes->size()));
    if (!f) {
      cleanup();
      throw Error("onnx: cannot write " + in);
    }
  }
  std::string shape;
  for (int64_t d : spec.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  const std::string cmd = quote(spec.node) + " " + quote(script) + " --model " + quote(spec.model) +
                          " --input " + quote(in) + " --dtype " + spec.dtype + " --shape " + shape +
                          " --output " + quote(out) + " --opt " + spec.opt + " --threads " +
                          std::to_string(spec.threads) + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    cleanup();
    throw Error("onnx: cannot start " + spec.node);
  }
  OrtRunResult r;
  char buf[4096];
  size_t n;
  std::string log;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
  const int st = ::pclose(p);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    cleanup();
    while (!log.empty() && log.back() == '\n') log.pop_back();
    throw Error("onnx: ONNX Runtime failed (" + script + "): " + log);
  }
  r.summary = log.substr(log.rfind('{') == std::string::npos ? 0 : log.rfind('{'));
  std::ifstream f(out, std::ios::binary | std::ios::ate);
  const std::streamoff bytes = f ? static_cast<std::streamoff>(f.tellg()) : 0;
  r.outputs.resize(static_cast<size_t>(bytes) / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(r.outputs.data()),
         static_cast<std::streamsize>(r.outputs.size() * 4));
  cleanup();
  return r;
}

}  // namespace f8net::cli
