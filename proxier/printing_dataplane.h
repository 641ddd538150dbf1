#pragma once

#include <ostream>
#include <string>

#include "proxier/dataplane.h"

namespace kpx {

// A Dataplane that touches no kernel and writes each snapshot it is given as readable text: what
// kpx derived from its sources, for --dry-run and for debugging a manifest directory.
class PrintingDataplane final : public Dataplane {
 public:
  explicit PrintingDataplane(std::ostream& out) : out_(out) {}
  std::string_view Name() const override { return "dry-run"; }
  Status Apply(const DesiredState& state, bool full) override;
  Status Cleanup() override { return Status::Ok(); }

  // The text Apply writes, without the header line; pure.
  static std::string Format(const DesiredState& state);

 private:
  std::ostream& out_;
};

}  // namespace kpx
