// Hostile API objects must never reach the kernel unescaped: decode whatever the input holds,
// build the desired state, render iptables-restore text, and check that the text is still made
// of well-formed lines (printable ASCII, one rule per line, balanced quotes) whatever the names,
// comments and addresses were.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "k8s-watch/decode/json_text.h"
#include "k8s-watch/decode/list_decoder.h"
#include "proxier/core/state_builder.h"
#include "proxier/iptables/iptables_renderer.h"

namespace {

void CheckRestoreText(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c < 0x20 || c > 0x7e) std::abort();  // a control or non-ASCII byte reached a rule
      if (c == '\\' && quoted) {
        ++i;  // an escaped character inside a quoted comment
        continue;
      }
      if (c == '"') quoted = !quoted;
    }
    if (quoted) std::abort();  // an unbalanced quote would swallow the next arguments
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rapidjson::Document doc;
  if (!kpx::JsonText::Parse(std::string_view(reinterpret_cast<const char*>(data), size), &doc)
           .ok()) {
    return 0;
  }
  kpx::DecodedObjects objects = kpx::ListDecoder::Decode(doc);
  kpx::StateBuilder builder("node-a");
  for (const auto& s : objects.services) builder.UpdateService(s);
  for (const auto& s : objects.endpoint_slices) builder.AddEndpointSlice(s);
  for (const auto& n : objects.nodes) builder.UpdateNode(n);
  builder.SetSynced(true);
  const kpx::DesiredState state = builder.Snapshot();
  kpx::IptablesOptions options;
  options.localhost_nodeports = true;
  options.cluster_cidrs = {*kpx::Cidr::Parse("10.0.0.0/8")};
  const kpx::IptablesRenderer renderer(options);
  for (kpx::IpFamily f : kpx::kIpFamilies) {
    CheckRestoreText(renderer.Render(state, f, {}));
  }
  return 0;
}
