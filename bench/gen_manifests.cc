// kpx-bench-gen: writes a manifest directory (for kpx --source) with N ClusterIP services.
//
//   kpx-bench-gen --out DIR --services N [--endpoints E] [--backends IP,IP,...]
//                 [--pod-base IP] [--service-base IP] [--port P] [--target-port P]
//                 [--node NAME] [--node-ip IP] [--chunk C] [--edit-service K] [--edit-dir DIR2]
//                 [--ipvsadm FILE] [--local-endpoints K]
//
// The Services, their addresses and endpoints are bench/synthetic_cluster.h's. Names are
// zero-padded so that kpx's sorted rule order is the numeric order: svc-00000 is first in
// KUBE-SERVICES, svc-<N-1> last. --backends is for the data plane (a handful of real servers shared
// by every service), counted pod addresses for the control plane.
//
// Files: node.json; services-NNN.json and slices-NNN.json holding `chunk` objects each (one List
// per file, so one small edit re-parses one small file, not everything); the EndpointSlice of
// --edit-service (default N/2) alone in edit-slice.json. With --edit-dir, DIR2/edit-slice.a and
// DIR2/edit-slice.b are two versions of that file that differ in the address of one endpoint:
// copying them over edit-slice.json in turn is "one endpoint changed".
//
// --local-endpoints K: the first K endpoints (in service order) run on --node, the others on
// peer nodes bench-peer-1, -2, ... with K each; by default all run on --node. A real node holds
// at most a few hundred pods (kubelet's default maxPods is 110), so "every endpoint of a
// 10 000-service cluster on this node" overstates what is node-local (hairpin pairs, loopback
// ipset entries, Local endpoint sets).
//
// --ipvsadm FILE: the same services and endpoints as `ipvsadm -R` input (one TCP virtual server
// per ClusterIP, scheduler rr, masquerading real servers of weight 1, as kpx's IPVS mode programs
// them): the data-plane floor configures the kernel with it, without kpx (bench/lib/guest.sh).
//
// The edit slices carry endpoints.kubernetes.io/last-change-trigger-time = kTriggerTime, a time
// before any kpx started, which kpx (like kube-proxy) leaves out of
// kubeproxy_network_programming_duration_seconds; kpx-bench-churn replaces it with the time of
// each write, as the EndpointSlice controller stamps each change.
//
// Plain JSON written with printf: 20 000 services x 10 endpoints take well under a second.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/synthetic_cluster.h"

namespace {

using kpx::bench::SyntheticCluster;

struct Options : SyntheticCluster {
  std::string node = "kpx-node";
  std::string node_ip = "10.98.0.2";
  long chunk = 1000;
  std::string ipvsadm;
  // How many endpoints run on `node` (the first ones, in service order); the others are spread
  // over peer nodes holding as many each. -1: all of them.
  long local_endpoints = -1;
  std::string NodeOf(long service, int j) const {
    const long g = service * endpoints + j;
    if (local_endpoints < 0 || g < local_endpoints) return node;
    return "bench-peer-" + std::to_string(local_endpoints == 0 ? 0 : g / local_endpoints);
  }
};

// The placeholder trigger time of the edit slices (see the header comment); kpx-bench-churn
// looks for this exact text.
constexpr const char* kTriggerTime = "2000-01-01T00:00:00Z";

std::string IpText(uint32_t ip) { return SyntheticCluster::IpText(ip); }

// Opens `path` for writing or exits with a message.
FILE* OpenOrDie(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "kpx-bench-gen: cannot write %s: %s\n", path.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
  return f;
}

void CloseOrDie(FILE* f, const std::string& path) {
  if (std::ferror(f) != 0 || std::fclose(f) != 0) {
    std::fprintf(stderr, "kpx-bench-gen: write to %s failed\n", path.c_str());
    std::exit(1);
  }
}

void WriteService(FILE* f, const Options& o, long i) {
  const std::string ip = IpText(o.ServiceIp(i));
  const std::string name = o.ServiceName(i);
  std::fprintf(f,
               "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
               "\"namespace\":\"bench\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\","
               "\"clusterIPs\":[\"%s\"],\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":"
               "\"SingleStack\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%d,"
               "\"targetPort\":%d}],\"sessionAffinity\":\"None\"}}",
               name.c_str(), ip.c_str(), ip.c_str(), o.port, o.target_port);
}

// `changed_ip`, when non-zero, replaces the address of endpoint 0. `trigger`, when set, is the
// slice's last-change-trigger-time annotation.
void WriteSlice(FILE* f, const Options& o, long i, uint32_t changed_ip,
                const char* trigger = nullptr) {
  const std::string name = o.ServiceName(i);
  std::string annotations;
  if (trigger != nullptr) {
    annotations =
        std::string(",\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":\"") +
        trigger + "\"}";
  }
  std::fprintf(f,
               "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
               "{\"name\":\"%s-bench\",\"namespace\":\"bench\",\"labels\":{"
               "\"kubernetes.io/service-name\":\"%s\",\"endpointslice.kubernetes.io/managed-by\":"
               "\"endpointslice-controller.k8s.io\"}%s},\"addressType\":\"IPv4\",\"endpoints\":[",
               name.c_str(), name.c_str(), annotations.c_str());
  for (int j = 0; j < o.endpoints; ++j) {
    const uint32_t ip = (j == 0 && changed_ip != 0) ? changed_ip : o.EndpointIp(i, j);
    std::fprintf(f,
                 "%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true,\"serving\":true,"
                 "\"terminating\":false},\"nodeName\":\"%s\"}",
                 j == 0 ? "" : ",", IpText(ip).c_str(), o.NodeOf(i, j).c_str());
  }
  std::fprintf(f, "],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%d}]}",
               o.target_port);
}

void WriteListStart(FILE* f) {
  std::fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{},\"items\":[\n", f);
}

void WriteListEnd(FILE* f) { std::fputs("\n]}\n", f); }

void WriteNode(const Options& o) {
  const std::string path = o.out + "/node.json";
  FILE* f = OpenOrDie(path);
  std::fprintf(f,
               "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\"},"
               "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"%s\"},"
               "{\"type\":\"Hostname\",\"address\":\"%s\"}]}}\n",
               o.node.c_str(), o.node_ip.c_str(), o.node.c_str());
  CloseOrDie(f, path);
}

// Writes services and slices [first, last) to one pair of chunk files.
void WriteChunk(const Options& o, long chunk_index, long first, long last) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-%03ld.json", chunk_index);
  const std::string svc_path = o.out + "/services" + suffix;
  const std::string slice_path = o.out + "/slices" + suffix;
  FILE* svc = OpenOrDie(svc_path);
  FILE* slices = OpenOrDie(slice_path);
  WriteListStart(svc);
  WriteListStart(slices);
  bool first_slice = true;
  for (long i = first; i < last; ++i) {
    if (i != first) std::fputs(",\n", svc);
    WriteService(svc, o, i);
    if (i == o.edit_service) continue;
    if (!first_slice) std::fputs(",\n", slices);
    first_slice = false;
    WriteSlice(slices, o, i, 0);
  }
  WriteListEnd(svc);
  WriteListEnd(slices);
  CloseOrDie(svc, svc_path);
  CloseOrDie(slices, slice_path);
}

void WriteEditSlice(const Options& o, const std::string& path, uint32_t changed_ip) {
  FILE* f = OpenOrDie(path);
  WriteSlice(f, o, o.edit_service, changed_ip, kTriggerTime);
  std::fputs("\n", f);
  CloseOrDie(f, path);
}

// The ipvsadm -R input for every service (see the header comment).
void WriteIpvsadm(const Options& o) {
  FILE* f = OpenOrDie(o.ipvsadm);
  for (long i = 0; i < o.services; ++i) {
    const std::string vip = IpText(o.ServiceIp(i));
    std::fprintf(f, "-A -t %s:%d -s rr\n", vip.c_str(), o.port);
    for (int j = 0; j < o.endpoints; ++j) {
      std::fprintf(f, "-a -t %s:%d -r %s:%d -m -w 1\n", vip.c_str(), o.port,
                   IpText(o.EndpointIp(i, j)).c_str(), o.target_port);
    }
  }
  CloseOrDie(f, o.ipvsadm);
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "kpx-bench-gen: %s\nusage: kpx-bench-gen --out DIR %s [--node NAME] [--node-ip IP] "
               "[--chunk C] [--ipvsadm FILE] [--local-endpoints K]\n",
               why.c_str(), SyntheticCluster::kUsage);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  const std::string error =
      o.Parse(argc, argv, [&](const std::string& flag, const char* v, std::string* bad) {
        if (flag == "--node") {
          o.node = v;
        } else if (flag == "--node-ip") {
          o.node_ip = v;
        } else if (flag == "--local-endpoints") {
          o.local_endpoints = std::atol(v);
          if (o.local_endpoints < 0) *bad = "--local-endpoints must not be negative";
        } else if (flag == "--ipvsadm") {
          o.ipvsadm = v;
        } else if (flag == "--chunk") {
          o.chunk = std::atol(v);
          if (o.chunk < 1) *bad = "--chunk must be positive";
        } else {
          return false;
        }
        return true;
      });
  if (!error.empty()) Usage(error);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  WriteNode(o);
  for (long first = 0, chunk = 0; first < o.services; first += o.chunk, ++chunk) {
    WriteChunk(o, chunk, first, std::min(first + o.chunk, o.services));
  }
  WriteEditSlice(o, o.out + "/edit-slice.json", 0);
  if (!o.edit_dir.empty()) {
    WriteEditSlice(o, o.edit_dir + "/edit-slice.a", 0);
    WriteEditSlice(o, o.edit_dir + "/edit-slice.b", SyntheticCluster::ChangedEndpointIp());
  }
  if (!o.ipvsadm.empty()) WriteIpvsadm(o);
  return 0;
}
