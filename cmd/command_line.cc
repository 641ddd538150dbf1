#include "cmd/command_line.h"

#include <set>

#include "cmd/bind_address.h"
#include "cmd/config_file.h"
#include "cmd/flag_set.h"
#include "cmd/kpx_flags.h"

namespace kpx {

namespace {

// The newest kube-proxy release whose flags, configuration and rules kpx follows.
constexpr char kKubeProxyVersion[] = "v1.35.0";

}  // namespace

std::string VersionText(const std::string& request) {
  if (request == "raw") {
    return std::string("version.Info{Major:\"1\", Minor:\"35\", GitVersion:\"") +
           kKubeProxyVersion + "\", Program:\"kpx\"}\n";
  }
  return std::string("Kubernetes ") + kKubeProxyVersion + " (kpx)\n";
}

Result<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  CommandLine out;
  FlagSet flags;
  RegisterKpxFlags(flags, out.config);
  flags.Bool("help", &out.help, "Show this help.");
  flags.Shorthand('h', "help");
  if (Status st = flags.Parse(argc, argv); !st.ok()) return st;
  out.usage = flags.Usage();
  if (out.help || !out.config.version_request.empty()) return out;
  if (!out.config.config_file.empty()) {
    const std::string path = out.config.config_file;
    auto loaded = LoadConfigFile(path, KpxConfig{});
    if (!loaded.ok()) return loaded.status();
    // The flag bindings point into out.config, so re-parsing lays the flags over the file.
    out.config = std::move(loaded).value();
    if (Status st = flags.Parse(argc, argv); !st.ok()) return st;
    // What kube-proxy still honours next to --config: logging flags and --hostname-override;
    // kpx's own flags have no kube-proxy meaning to differ from.
    static const std::set<std::string> kHonouredByKubeProxy = {"config",
                                                               "v",
                                                               "vmodule",
                                                               "hostname-override",
                                                               "source",
                                                               "dry-run",
                                                               "iptables-backend",
                                                               "iptables-dispatch",
                                                               "help",
                                                               "version",
                                                               "cleanup",
                                                               "write-config-to",
                                                               "init-only",
                                                               "iptables-full-sync-period"};
    for (const std::string& name : flags.SetFlags()) {
      if (!kHonouredByKubeProxy.contains(name)) out.flags_over_config.push_back("--" + name);
    }
  } else {
    // kube-proxy's deprecated --healthz-port/--metrics-port, honoured without a config file
    // only, as kube-proxy does: 0 disables the server, another port fills in a missing one.
    auto& c = out.config;
    c.healthz_bind_address =
        c.deprecated_ports.healthz == 0
            ? ""
            : AppendPortIfNeeded(c.healthz_bind_address, c.deprecated_ports.healthz);
    c.metrics_bind_address =
        c.deprecated_ports.metrics == 0
            ? ""
            : AppendPortIfNeeded(c.metrics_bind_address, c.deprecated_ports.metrics);
  }
  if (flags.WasSet("hostname-override")) {
    // kube-proxy trims the flag and refuses one that is only blanks.
    std::string& h = out.config.hostname_override;
    const auto b = h.find_first_not_of(" \t");
    if (b == std::string::npos) return Status::Error("empty hostname-override is invalid");
    h = h.substr(b, h.find_last_not_of(" \t") - b + 1);
  }
  if (Status st = ValidateConfig(out.config); !st.ok()) {
    return Status::Error("invalid configuration: " + st.message());
  }
  return out;
}

}  // namespace kpx
