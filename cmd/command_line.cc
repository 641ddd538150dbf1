#include "cmd/command_line.h"

#include "cmd/config_file.h"
#include "cmd/flag_set.h"
#include "cmd/kpx_flags.h"

namespace kpx {

Result<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  CommandLine out;
  FlagSet flags;
  RegisterKpxFlags(flags, out.config);
  flags.Bool("help", &out.help, "Show this help.");
  if (Status st = flags.Parse(argc, argv); !st.ok()) return st;
  out.usage = flags.Usage();
  if (out.help) return out;
  if (!out.config.config_file.empty()) {
    const std::string path = out.config.config_file;
    auto loaded = LoadConfigFile(path, KpxConfig{});
    if (!loaded.ok()) return loaded.status();
    // The flag bindings point into out.config, so re-parsing lays the flags over the file.
    out.config = std::move(loaded).value();
    if (Status st = flags.Parse(argc, argv); !st.ok()) return st;
  }
  if (Status st = ValidateConfig(out.config); !st.ok()) {
    return Status::Error("invalid configuration: " + st.message());
  }
  return out;
}

}  // namespace kpx
