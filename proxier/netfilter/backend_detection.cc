#include "proxier/netfilter/backend_detection.h"

#include <string>

namespace kpx {

namespace {

bool HasHint(std::string_view mangle) {
  return mangle.find(":KUBE-IPTABLES-HINT ") != std::string_view::npos ||
         mangle.find(":KUBE-KUBELET-CANARY ") != std::string_view::npos;
}

size_t CountRules(std::string_view text) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '-') ++n;
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return n;
}

std::string SaveOutput(CommandExecutor& executor, const std::string& binary,
                       std::vector<std::string> args) {
  args.insert(args.begin(), binary);
  auto out = executor.Run(args, "");
  if (!out.ok() || out->exit_code != 0) return "";
  return out->out;
}

}  // namespace

IptablesFlavor ChooseIptablesFlavor(const BackendSnapshot& nft, const BackendSnapshot& legacy) {
  if (HasHint(nft.mangle)) return IptablesFlavor::kNft;
  if (HasHint(legacy.mangle)) return IptablesFlavor::kLegacy;
  return CountRules(legacy.all) > CountRules(nft.all) ? IptablesFlavor::kLegacy
                                                      : IptablesFlavor::kNft;
}

IptablesFlavor DetectIptablesFlavor(CommandExecutor& executor) {
  std::string text[2][2];  // [nft, legacy][mangle, all]
  const char* kinds[2] = {"nft", "legacy"};
  for (int k = 0; k < 2; ++k) {
    for (const char* fam : {"iptables", "ip6tables"}) {
      const std::string binary = std::string(fam) + "-" + kinds[k] + "-save";
      text[k][0] += SaveOutput(executor, binary, {"-t", "mangle"});
      text[k][1] += SaveOutput(executor, binary, {});
    }
  }
  return ChooseIptablesFlavor({text[0][0], text[0][1]}, {text[1][0], text[1][1]});
}

}  // namespace kpx
