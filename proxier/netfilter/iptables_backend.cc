#include "proxier/netfilter/iptables_backend.h"

#include <glog/logging.h>

#include "base/enum_names.h"
#include "proxier/netfilter/backend_detection.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/libiptc_iptables_runner.h"

namespace kpx {

namespace {

using B = IptablesBackend;
using namespace std::string_view_literals;
constexpr EnumNames kNames(std::array{std::pair{B::kAuto, "auto"sv}, std::pair{B::kNft, "nft"sv},
                                      std::pair{B::kLegacy, "legacy"sv},
                                      std::pair{B::kLibiptc, "libiptc"sv}});

}  // namespace

std::optional<IptablesBackend> ParseIptablesBackend(std::string_view text) {
  return kNames.Parse(text);
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
