#include "cmd/dataplane_factory.h"

#include "proxier/printing_dataplane.h"

namespace kpx {

Result<std::unique_ptr<Dataplane>> MakeDataplane(const KpxConfig& config, std::ostream& out,
                                                 MetricsRegistry& metrics) {
  if (config.dry_run) {
    if (config.cleanup) return Status::Error("--cleanup and --dry-run exclude each other");
    return std::unique_ptr<Dataplane>(std::make_unique<PrintingDataplane>(out));
  }
  return Status::Error("proxy mode \"" + config.mode +
                       "\" is not available in this build yet; use --dry-run to print the "
                       "desired state");
}

}  // namespace kpx
