#include "proxier/ipvs/ipvs_dataplane_factory.h"

#include <glog/logging.h>

#include "proxier/ipvs/ipvs_dataplane.h"
#include "proxier/ipvs/netlink_ipvs_handle.h"
#include "proxier/ipvs/netlink_link_handle.h"
#include "proxier/netfilter/backend_detection.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/libipset_ipset.h"
#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/netfilter/proc_sysctl.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace kpx {

Result<std::unique_ptr<Dataplane>> NewIpvsDataplane(const IpvsOptions& options) {
  if (auto s = ValidateIpvsOptions(options); !s.ok()) return s;
  auto ipvs = NetlinkIpvsHandle::Open();
  if (!ipvs.ok()) return ipvs.status();
  auto link = NetlinkLinkHandle::Open();
  if (!link.ok()) return link.status();
  // In process rather than spawning ipset(8) per sync: an incremental sync's few entries cost
  // microseconds instead of a process start. No fallback to the binary: it is built on the same
  // libipset and talks to the same kernel, so it would fail where this fails.
  auto ipset = LibipsetIpset::Open();
  if (!ipset.ok()) return ipset.status();
  auto executor = std::make_shared<SubprocessExecutor>();
  IptablesFlavor flavor = IptablesFlavor::kLegacy;
  if (options.iptables_backend == "nft") {
    flavor = IptablesFlavor::kNft;
  } else if (options.iptables_backend == "auto") {
    flavor = DetectIptablesFlavor(*executor);
    LOG(INFO) << "ipvs: iptables backend " << (flavor == IptablesFlavor::kNft ? "nft" : "legacy")
              << " (detected)";
  }
  IpvsSeams seams;
  seams.ipvs = std::move(ipvs).value();
  seams.link = std::move(link).value();
  seams.ipset = std::move(ipset).value();
  seams.iptables = std::make_unique<ExecIptablesRunner>(flavor, executor);
  seams.sysctl = std::make_unique<ProcSysctl>();
  seams.conntrack = std::make_unique<NetlinkConntrack>();
  return std::unique_ptr<Dataplane>(new IpvsDataplane(options, std::move(seams)));
}

}  // namespace kpx
