#include "proxier/iptables/iptables_dataplane_factory.h"

#include <glog/logging.h>

#include "proxier/iptables/backend_detection.h"
#include "proxier/iptables/exec_conntrack.h"
#include "proxier/iptables/exec_iptables_runner.h"
#include "proxier/iptables/iptables_dataplane.h"
#include "proxier/iptables/libiptc_iptables_runner.h"
#include "proxier/iptables/subprocess_executor.h"

namespace kpx {

std::optional<IptablesBackend> ParseIptablesBackend(std::string_view text) {
  if (text == "auto") return IptablesBackend::kAuto;
  if (text == "nft") return IptablesBackend::kNft;
  if (text == "legacy") return IptablesBackend::kLegacy;
  if (text == "libiptc") return IptablesBackend::kLibiptc;
  return std::nullopt;
}

std::unique_ptr<IptablesRunner> NewIptablesRunner(IptablesBackend backend,
                                                  std::shared_ptr<CommandExecutor> executor) {
  switch (backend) {
    case IptablesBackend::kLibiptc:
      return std::make_unique<LibiptcIptablesRunner>();
    case IptablesBackend::kNft:
      return std::make_unique<ExecIptablesRunner>(IptablesFlavor::kNft, executor);
    case IptablesBackend::kLegacy:
      return std::make_unique<ExecIptablesRunner>(IptablesFlavor::kLegacy, executor);
    case IptablesBackend::kAuto:
      break;
  }
  const IptablesFlavor flavor = DetectIptablesFlavor(*executor);
  LOG(INFO) << "iptables backend: " << (flavor == IptablesFlavor::kLegacy ? "legacy" : "nft")
            << " (detected)";
  return std::make_unique<ExecIptablesRunner>(flavor, executor);
}

std::unique_ptr<Dataplane> NewIptablesDataplane(const IptablesOptions& options) {
  auto executor = std::make_shared<SubprocessExecutor>();
  return std::make_unique<IptablesDataplane>(options, NewIptablesRunner(options.backend, executor),
                                             std::make_unique<ExecConntrack>(executor));
}

}  // namespace kpx
