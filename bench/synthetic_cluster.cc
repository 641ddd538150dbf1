#include "bench/synthetic_cluster.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>

namespace kpx::bench {

bool SyntheticCluster::ParseIp(const char* text, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

std::string SyntheticCluster::IpText(uint32_t ip) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{};
  a.s_addr = htonl(ip);
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

std::string SyntheticCluster::ServiceName(long i) const {
  int width = 5;
  for (long n = services - 1; n >= 100000; n /= 10) ++width;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "svc-%0*ld", width, i);
  return buf;
}

uint32_t SyntheticCluster::EndpointIp(long i, int j) const {
  if (!backends.empty()) return backends[static_cast<size_t>(i + j) % backends.size()];
  return pod_base + static_cast<uint32_t>(i * endpoints + j);
}

std::string SyntheticCluster::Parse(int argc, char** argv, const ExtraFlag& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return "missing value for " + flag;
    const char* v = argv[++i];
    if (flag == "--out") {
      out = v;
    } else if (flag == "--edit-dir") {
      edit_dir = v;
    } else if (flag == "--services") {
      services = std::atol(v);
    } else if (flag == "--endpoints") {
      endpoints = std::atoi(v);
    } else if (flag == "--backends") {
      const std::string list = v;
      for (size_t pos = 0; pos <= list.size();) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const std::string item = list.substr(pos, comma - pos);
        uint32_t ip;
        if (!ParseIp(item.c_str(), &ip)) return "bad backend address " + item;
        backends.push_back(ip);
        pos = comma + 1;
      }
    } else if (flag == "--pod-base") {
      if (!ParseIp(v, &pod_base)) return "bad --pod-base";
    } else if (flag == "--service-base") {
      if (!ParseIp(v, &service_base)) return "bad --service-base";
    } else if (flag == "--port") {
      port = std::atoi(v);
    } else if (flag == "--target-port") {
      target_port = std::atoi(v);
    } else if (flag == "--edit-service") {
      edit_service = std::atol(v);
    } else {
      std::string error;
      if (!extra || !extra(flag, v, &error)) return "unknown flag " + flag;
      if (!error.empty()) return error;
    }
  }
  if (out.empty()) return "--out is required";
  // Service addresses count up from --service-base (10.100.0.1 ... 10.101.134.160 for 100 000).
  if (services < 1 || services > 1000000) return "--services must be in 1..1000000";
  if (endpoints < 1 || endpoints > 1000) return "--endpoints must be in 1..1000";
  if (edit_service < 0) edit_service = services / 2;
  if (edit_service >= services) return "--edit-service out of range";
  return "";
}

}  // namespace kpx::bench
