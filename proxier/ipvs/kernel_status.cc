#include "proxier/ipvs/kernel_status.h"

#include <cerrno>
#include <cstring>

namespace kpx {

KernelStatus KernelStatus::FromErrno(int err, const std::string& context) {
  if (err == 0) return Ok();
  KernelErrorKind kind = KernelErrorKind::kOther;
  if (err == EEXIST) kind = KernelErrorKind::kExists;
  // IPVS answers ESRCH for an unknown virtual server and ENOENT for an unknown real server.
  if (err == ENOENT || err == ESRCH) kind = KernelErrorKind::kNotFound;
  return Error(kind, context + ": " + std::strerror(err));
}

}  // namespace kpx
