#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxier/netfilter/ipset.h"

namespace kpx {

// Ipset in process, over Debian's libipset (the library the ipset(8) binary is built on): the same
// restore/save language and kernel messages, without spawning `ipset` for every sync (a fork and
// exec cost more than the kernel work of a one-element change, and under TCG far more).
//
// Each call opens its own libipset session (a netlink socket in the calling thread's network
// namespace) and closes it before returning, so no state survives between calls: libipset keeps a
// process-wide cache of set name -> type that a long-lived session would let go stale when a set is
// destroyed and re-created with another type (by anyone, or in another namespace). libipset's type
// registry and that cache are process globals, so every instance serializes its calls on one
// process-wide mutex; an instance is safe to use from any thread.
//
// Restore differs from `ipset restore` in one way: when a line fails, every line before it is
// applied (the binary exits without sending the adds it had batched), and none after it.
class LibipsetIpset : public Ipset {
 public:
  // Checks that the kernel answers libipset's protocol in the calling thread's network namespace;
  // the error says why not (no ip_set module, no CAP_NET_ADMIN).
  static Result<std::unique_ptr<LibipsetIpset>> Open();

  Status Restore(std::string_view text) override;
  Result<std::string> Save() override;
  Status Destroy(const std::string& name) override;

 private:
  LibipsetIpset() = default;
};

}  // namespace kpx
