// kpx-bench-kpnft: kube-proxy's own nftables ruleset (its 1.35/1.36 layout) for the Services
// kpx-bench-gen writes, as an `nft -f` file: the peer the nftables rows are measured against.
//
//   kpx-bench-kpnft --out FILE --services N [--endpoints E] [--backends IP,IP,...]
//                   [--pod-base IP] [--service-base IP] [--port P] [--target-port P]
//                   [--cluster-cidr CIDR] [--service-cidr CIDR] [--edit-service K]
//                   [--edit-dir DIR]
//
// The Services and endpoints are bench/synthetic_cluster.h's, as kpx-bench-gen's for the same
// flags.
//
// The structure is the one kube-proxy's nftables proxier documents and tests (pkg/proxy/nftables
// README and proxier_test.go, KEP-3866): table `ip kube-proxy`; sets cluster-ips, nodeport-ips;
// verdict maps service-ips, service-nodeports, no-endpoint-services, no-endpoint-nodeports,
// firewall-ips; base chains nat-prerouting/nat-output/nat-postrouting and the filter-* chains
// with their checks; per service port a chain `service-<hash>-ns/name/proto/port` that marks
// off-cluster sources for masquerading and picks an endpoint with `numgen random mod N vmap {...}`;
// per endpoint a chain `endpoint-<hash>-ns/name/proto/port__ip/port` (hairpin mark, DNAT); one
// cluster-ips element and one service-ips element per service port. The hash is 8 base32
// characters of a hash of the name, as kube-proxy's, but not its sha256 (the names only need
// to be unique and of the same length).
//
// With --edit-dir, DIR/edit-a.nft and DIR/edit-b.nft are the incremental transactions kube-proxy
// sends when endpoint 0 of --edit-service (default N/2) changes to 10.255.255.254 and back (as
// kpx-bench-gen's edit-slice.a/.b): the new endpoint chain, the service chain flushed and
// rewritten with the new vmap, the old endpoint chain flushed and deleted.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synthetic_cluster.h"

namespace {

using kpx::bench::SyntheticCluster;

struct Options : SyntheticCluster {
  std::string cluster_cidr = "10.128.0.0/10";
  std::string service_cidr = "10.96.0.0/12";
};

std::string IpText(uint32_t ip) { return SyntheticCluster::IpText(ip); }

// 8 characters of base32 over a 64-bit FNV-1a hash (kube-proxy: base32 of sha256).
std::string Hash8(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out(8, 'A');
  for (int k = 0; k < 8; ++k) out[k] = kAlphabet[(h >> (5 * k)) & 31];
  return out;
}

std::string PortName(const Options& o, long i) { return "bench/" + o.ServiceName(i) + "/tcp/http"; }
std::string ServiceChain(const Options& o, long i) {
  const std::string n = PortName(o, i);
  return "service-" + Hash8(n) + "-" + n;
}
std::string EndpointChain(const Options& o, long i, uint32_t ip) {
  const std::string n = PortName(o, i) + "__" + IpText(ip) + "/" + std::to_string(o.target_port);
  return "endpoint-" + Hash8(n) + "-" + n;
}

void EndpointRules(std::ostringstream& f, const Options& o, long i, uint32_t ip) {
  const std::string c = EndpointChain(o, i, ip);
  const std::string a = IpText(ip);
  f << "add chain ip kube-proxy " << c << "\n";
  f << "add rule ip kube-proxy " << c << " ip saddr " << a << " jump mark-for-masquerade\n";
  f << "add rule ip kube-proxy " << c << " meta l4proto tcp dnat to " << a << ":" << o.target_port
    << "\n";
}

void ServiceRules(std::ostringstream& f, const Options& o, long i,
                  const std::vector<uint32_t>& eps) {
  const std::string c = ServiceChain(o, i);
  f << "add rule ip kube-proxy " << c << " ip daddr " << IpText(o.ServiceIp(i))
    << " ip saddr != " << o.cluster_cidr << " jump mark-for-masquerade\n";
  f << "add rule ip kube-proxy " << c << " numgen random mod " << eps.size() << " vmap { ";
  for (size_t j = 0; j < eps.size(); ++j) {
    f << (j == 0 ? "" : " , ") << j << " : goto " << EndpointChain(o, i, eps[j]);
  }
  f << " }\n";
}

std::vector<uint32_t> Endpoints(const Options& o, long i) {
  std::vector<uint32_t> eps;
  for (int j = 0; j < o.endpoints; ++j) eps.push_back(o.EndpointIp(i, j));
  return eps;
}

void Base(std::ostringstream& f, const Options& o) {
  f << "add table ip kube-proxy\n"
       "add set ip kube-proxy cluster-ips { type ipv4_addr ; }\n"
       "add set ip kube-proxy nodeport-ips { type ipv4_addr ; }\n"
       "add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : "
       "verdict ; }\n"
       "add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; "
       "}\n"
       "add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service "
       ": verdict ; }\n"
       "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict "
       "; }\n"
       "add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; }\n"
       "add chain ip kube-proxy cluster-ips-check\n"
       "add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting "
       "priority -110 ; }\n"
       "add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 "
       "; }\n"
       "add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }\n"
       "add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }\n"
       "add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }\n"
       "add chain ip kube-proxy firewall-check\n"
       "add chain ip kube-proxy mark-for-masquerade\n"
       "add chain ip kube-proxy masquerading\n"
       "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
       "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }\n"
       "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }\n"
       "add chain ip kube-proxy nodeport-endpoints-check\n"
       "add chain ip kube-proxy reject-chain\n"
       "add chain ip kube-proxy services\n"
       "add chain ip kube-proxy service-endpoints-check\n"
       "add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject\n";
  f << "add rule ip kube-proxy cluster-ips-check ip daddr { " << o.service_cidr << " } drop\n";
  f << "add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check\n"
       "add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check\n"
       "add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check\n"
       "add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check\n"
       "add rule ip kube-proxy filter-input ct state new jump service-endpoints-check\n"
       "add rule ip kube-proxy filter-output ct state new jump service-endpoints-check\n"
       "add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check\n"
       "add rule ip kube-proxy filter-output ct state new jump cluster-ips-check\n"
       "add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap "
       "@firewall-ips\n"
       "add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000\n"
       "add rule ip kube-proxy masquerading mark and 0x4000 == 0 return\n"
       "add rule ip kube-proxy masquerading mark set mark xor 0x4000\n"
       "add rule ip kube-proxy masquerading masquerade fully-random\n"
       "add rule ip kube-proxy nat-output jump services\n"
       "add rule ip kube-proxy nat-postrouting jump masquerading\n"
       "add rule ip kube-proxy nat-prerouting jump services\n"
       "add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . "
       "th dport vmap @no-endpoint-nodeports\n"
       "add rule ip kube-proxy reject-chain reject\n"
       "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips\n"
       "add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap "
       "@service-nodeports\n"
       "add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap "
       "@no-endpoint-services\n";
}

// One endpoint of the edit service changes from `from` to `to`.
std::string Edit(const Options& o, uint32_t from, uint32_t to) {
  const long i = o.edit_service;
  std::vector<uint32_t> eps = Endpoints(o, i);
  std::ostringstream f;
  eps[0] = to;
  EndpointRules(f, o, i, to);
  f << "flush chain ip kube-proxy " << ServiceChain(o, i) << "\n";
  ServiceRules(f, o, i, eps);
  f << "flush chain ip kube-proxy " << EndpointChain(o, i, from) << "\n";
  f << "delete chain ip kube-proxy " << EndpointChain(o, i, from) << "\n";
  return f.str();
}

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "kpx-bench-kpnft: %s\nusage: kpx-bench-kpnft --out FILE %s [--cluster-cidr CIDR] "
               "[--service-cidr CIDR]\n",
               why.c_str(), SyntheticCluster::kUsage);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const std::string error =
      o.Parse(argc, argv, [&](const std::string& flag, const char* v, std::string*) {
        if (flag == "--cluster-cidr") {
          o.cluster_cidr = v;
        } else if (flag == "--service-cidr") {
          o.service_cidr = v;
        } else {
          return false;
        }
        return true;
      });
  if (!error.empty()) Usage(error);

  std::ostringstream f;
  Base(f, o);
  for (long i = 0; i < o.services; ++i) {
    const std::vector<uint32_t> eps = Endpoints(o, i);
    f << "add chain ip kube-proxy " << ServiceChain(o, i) << "\n";
    for (uint32_t ip : eps) EndpointRules(f, o, i, ip);
    ServiceRules(f, o, i, eps);
    const std::string vip = IpText(o.ServiceIp(i));
    f << "add element ip kube-proxy cluster-ips { " << vip << " }\n";
    f << "add element ip kube-proxy service-ips { " << vip << " . tcp . " << o.port << " : goto "
      << ServiceChain(o, i) << " }\n";
  }
  if (!WriteFile(o.out, f.str())) Usage(("cannot write " + o.out).c_str());
  if (!o.edit_dir.empty()) {
    const uint32_t changed = SyntheticCluster::ChangedEndpointIp();
    const uint32_t original = o.EndpointIp(o.edit_service, 0);
    if (!WriteFile(o.edit_dir + "/edit-b.nft", Edit(o, original, changed)) ||
        !WriteFile(o.edit_dir + "/edit-a.nft", Edit(o, changed, original))) {
      Usage("cannot write the edit files");
    }
  }
  return 0;
}
