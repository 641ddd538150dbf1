#pragma once

#include <string>
#include <utility>

#include "base/status.h"

namespace kpx {

// Why a kernel call failed. EEXIST and ENOENT are told apart because reconcilers treat them as
// "someone got there first" and "already gone" rather than as failures.
enum class KernelErrorKind { kNone, kExists, kNotFound, kOther };

// A Status with a kind, for the IPVS and link seams.
class [[nodiscard]] KernelStatus {
 public:
  KernelStatus() = default;
  static KernelStatus Ok() { return KernelStatus(); }
  static KernelStatus Error(KernelErrorKind kind, std::string message) {
    KernelStatus s;
    s.kind_ = kind;
    s.message_ = std::move(message);
    return s;
  }
  // Maps a positive errno value; EEXIST and ENOENT (and ESRCH, which IPVS returns for a missing
  // service) get their own kinds.
  static KernelStatus FromErrno(int err, const std::string& context);

  bool ok() const { return kind_ == KernelErrorKind::kNone; }
  KernelErrorKind kind() const { return kind_; }
  bool exists() const { return kind_ == KernelErrorKind::kExists; }
  bool not_found() const { return kind_ == KernelErrorKind::kNotFound; }
  const std::string& message() const { return message_; }
  Status ToStatus() const { return ok() ? Status::Ok() : Status::Error(message_); }

 private:
  KernelErrorKind kind_ = KernelErrorKind::kNone;
  std::string message_;
};

}  // namespace kpx
