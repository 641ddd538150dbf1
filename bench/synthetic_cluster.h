#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kpx::bench {

// The synthetic cluster the benchmark generators describe: kpx-bench-gen writes it as manifests
// for kpx, kpx-bench-kpnft as kube-proxy's nftables ruleset. Both take its flags from here so that
// the peer is always generated for exactly the Services and endpoints kpx is given.
//
// Service i (0-based) is bench/svc-%05d (more digits above 100 000, so names sort numerically)
// with ClusterIP service-base + 1 + i, TCP `port` to `target_port`. Endpoint j of service i is
// backends[(i + j) % B] when backends are given (traffic works whatever the service), otherwise
// pod-base + i * E + j (one address per endpoint: realistic rule counts, no traffic).
struct SyntheticCluster {
  std::string out;
  std::string edit_dir;
  long services = -1;
  int endpoints = 3;
  std::vector<uint32_t> backends;
  uint32_t pod_base = 0x0a810000;      // 10.129.0.0
  uint32_t service_base = 0x0a640000;  // 10.100.0.0
  int port = 80;
  int target_port = 8080;
  long edit_service = -1;  // default N/2

  // The shared flags, for a tool's usage line.
  static constexpr const char* kUsage =
      "--services N [--endpoints E] [--backends IP,...] [--pod-base IP] [--service-base IP] "
      "[--port P] [--target-port P] [--edit-service K] [--edit-dir DIR]";

  // Parses `--flag value` pairs: the shared flags here, any other through `extra` (which returns
  // false for a flag it does not know). Returns an error message, empty on success; on success the
  // ranges are checked and defaults that depend on N are filled in.
  using ExtraFlag =
      std::function<bool(const std::string& flag, const char* value, std::string* error)>;
  std::string Parse(int argc, char** argv, const ExtraFlag& extra);

  std::string ServiceName(long i) const;
  uint32_t ServiceIp(long i) const { return service_base + 1 + static_cast<uint32_t>(i); }
  uint32_t EndpointIp(long i, int j) const;
  // The address endpoint 0 of --edit-service changes to in the edit files: outside both the
  // backends and the counted pod range.
  static uint32_t ChangedEndpointIp() { return 0x0afffffe; }  // 10.255.255.254

  static bool ParseIp(const char* text, uint32_t* out);
  static std::string IpText(uint32_t ip);
};

}  // namespace kpx::bench
