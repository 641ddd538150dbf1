#include "proxier/netfilter/iptables_backend.h"

#include <glog/logging.h>

#include "proxier/netfilter/backend_detection.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/libiptc_iptables_runner.h"

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

}  // namespace kpx
