// kpx-bench-gen: writes a manifest directory (for kpx --source) with N ClusterIP services.
//
//   kpx-bench-gen --out DIR --services N [--endpoints E] [--backends IP,IP,...]
//                 [--pod-base IP] [--service-base IP] [--port P] [--target-port P]
//                 [--node NAME] [--node-ip IP] [--chunk C] [--edit-service K] [--edit-dir DIR2]
//                 [--ipvsadm FILE]
//
// Service i (0-based) is bench/svc-%05d (more digits above 100 000) with ClusterIP service-base + 1
// + i, port `port` (TCP) to `target-port`. Names are zero-padded so that kpx's sorted rule order is
// the numeric order: svc-00000 is first in KUBE-SERVICES, svc-<N-1> last.
//
// Endpoints: with --backends, service i gets E endpoints taken round-robin from the backend list
// starting at i (data plane: a handful of real servers shared by every service, so traffic works
// whatever the service). Without it, every endpoint has its own address counted up from
// --pod-base (control plane: realistic rule counts, no traffic).
//
// Files: node.json; services-NNN.json and slices-NNN.json holding `chunk` objects each (one List
// per file, so one small edit re-parses one small file, not everything); the EndpointSlice of
// --edit-service (default N/2) alone in edit-slice.json. With --edit-dir, DIR2/edit-slice.a and
// DIR2/edit-slice.b are two versions of that file that differ in the address of one endpoint:
// copying them over edit-slice.json in turn is "one endpoint changed".
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

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string out;
  std::string edit_dir;
  long services = -1;
  int endpoints = 3;
  std::vector<uint32_t> backends;
  uint32_t pod_base = 0;
  uint32_t service_base = 0;
  int port = 80;
  int target_port = 8080;
  std::string node = "kpx-node";
  std::string node_ip = "10.98.0.2";
  long chunk = 1000;
  long edit_service = -1;
  std::string ipvsadm;
};

// The placeholder trigger time of the edit slices (see the header comment); kpx-bench-churn
// looks for this exact text.
constexpr const char* kTriggerTime = "2000-01-01T00:00:00Z";

bool ParseIp(const char* text, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

std::string IpText(uint32_t ip) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{};
  a.s_addr = htonl(ip);
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

// Digits in a service name: 5, or more for N > 100 000, so names still sort numerically.
int g_name_width = 5;

std::string ServiceName(long i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "svc-%0*ld", g_name_width, i);
  return buf;
}

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
  const std::string ip = IpText(o.service_base + 1 + static_cast<uint32_t>(i));
  const std::string name = ServiceName(i);
  std::fprintf(f,
               "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
               "\"namespace\":\"bench\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\","
               "\"clusterIPs\":[\"%s\"],\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":"
               "\"SingleStack\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%d,"
               "\"targetPort\":%d}],\"sessionAffinity\":\"None\"}}",
               name.c_str(), ip.c_str(), ip.c_str(), o.port, o.target_port);
}

// The address of endpoint j of service i.
uint32_t EndpointIp(const Options& o, long i, int j) {
  if (!o.backends.empty()) {
    return o.backends[static_cast<size_t>(i + j) % o.backends.size()];
  }
  return o.pod_base + static_cast<uint32_t>(i * o.endpoints + j);
}

// `changed_ip`, when non-zero, replaces the address of endpoint 0. `trigger`, when set, is the
// slice's last-change-trigger-time annotation.
void WriteSlice(FILE* f, const Options& o, long i, uint32_t changed_ip,
                const char* trigger = nullptr) {
  const std::string name = ServiceName(i);
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
    const uint32_t ip = (j == 0 && changed_ip != 0) ? changed_ip : EndpointIp(o, i, j);
    std::fprintf(f,
                 "%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true,\"serving\":true,"
                 "\"terminating\":false},\"nodeName\":\"%s\"}",
                 j == 0 ? "" : ",", IpText(ip).c_str(), o.node.c_str());
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
    const std::string vip = IpText(o.service_base + 1 + static_cast<uint32_t>(i));
    std::fprintf(f, "-A -t %s:%d -s rr\n", vip.c_str(), o.port);
    for (int j = 0; j < o.endpoints; ++j) {
      std::fprintf(f, "-a -t %s:%d -r %s:%d -m -w 1\n", vip.c_str(), o.port,
                   IpText(EndpointIp(o, i, j)).c_str(), o.target_port);
    }
  }
  CloseOrDie(f, o.ipvsadm);
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "kpx-bench-gen: %s\nusage: kpx-bench-gen --out DIR --services N [--endpoints E] "
               "[--backends IP,...] [--pod-base IP] [--service-base IP] [--port P] "
               "[--target-port P] [--node NAME] [--node-ip IP] [--chunk C] [--edit-service K] "
               "[--edit-dir DIR] [--ipvsadm FILE]\n",
               why);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  ParseIp("10.129.0.0", &o.pod_base);
  ParseIp("10.100.0.0", &o.service_base);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const char* v = argv[++i];
    if (flag == "--out") {
      o.out = v;
    } else if (flag == "--edit-dir") {
      o.edit_dir = v;
    } else if (flag == "--services") {
      o.services = std::atol(v);
    } else if (flag == "--endpoints") {
      o.endpoints = std::atoi(v);
    } else if (flag == "--backends") {
      std::string list = v;
      size_t start = 0;
      while (start <= list.size()) {
        const size_t comma = list.find(',', start);
        const std::string item =
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        uint32_t ip;
        if (!ParseIp(item.c_str(), &ip)) Usage(("bad backend address " + item).c_str());
        o.backends.push_back(ip);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (flag == "--pod-base") {
      if (!ParseIp(v, &o.pod_base)) Usage("bad --pod-base");
    } else if (flag == "--service-base") {
      if (!ParseIp(v, &o.service_base)) Usage("bad --service-base");
    } else if (flag == "--port") {
      o.port = std::atoi(v);
    } else if (flag == "--target-port") {
      o.target_port = std::atoi(v);
    } else if (flag == "--node") {
      o.node = v;
    } else if (flag == "--node-ip") {
      o.node_ip = v;
    } else if (flag == "--chunk") {
      o.chunk = std::atol(v);
    } else if (flag == "--ipvsadm") {
      o.ipvsadm = v;
    } else if (flag == "--edit-service") {
      o.edit_service = std::atol(v);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (o.out.empty()) Usage("--out is required");
  // Service addresses count up from --service-base (10.100.0.1 ... 10.101.134.160 for 100 000).
  if (o.services < 1 || o.services > 1000000) Usage("--services must be in 1..1000000");
  for (long n = o.services - 1; n >= 100000; n /= 10) ++g_name_width;
  if (o.endpoints < 1 || o.endpoints > 1000) Usage("--endpoints must be in 1..1000");
  if (o.chunk < 1) Usage("--chunk must be positive");
  if (o.edit_service < 0) o.edit_service = o.services / 2;
  if (o.edit_service >= o.services) Usage("--edit-service out of range");
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
    // An address outside both the backends and the counted pod range.
    uint32_t changed;
    ParseIp("10.255.255.254", &changed);
    WriteEditSlice(o, o.edit_dir + "/edit-slice.a", 0);
    WriteEditSlice(o, o.edit_dir + "/edit-slice.b", changed);
  }
  if (!o.ipvsadm.empty()) WriteIpvsadm(o);
  return 0;
}
