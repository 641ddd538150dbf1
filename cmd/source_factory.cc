#include "cmd/source_factory.h"

namespace kpx {

Result<std::unique_ptr<Source>> MakeSource(const KpxConfig& config, const std::string& node_name,
                                           Proxier& proxier, MetricsRegistry& metrics) {
  return Status::Error("no object source is available in this build yet");
}

}  // namespace kpx
