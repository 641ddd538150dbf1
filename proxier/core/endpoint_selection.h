#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxier/core/endpoint_info.h"
#include "proxier/core/endpoint_list.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// The endpoints of one service port in one IP family, sorted by (ip, port), and the subsets the
// traffic policies use. Mirrors kube-proxy's CategorizeEndpoints. A subset equal to a list it was
// drawn from shares that list's array (see EndpointList).
//
// 16 bytes: a port holds one per family, 100 000s of them. Almost always the subsets are `all`
// itself (every endpoint ready, none on this node, or the other family's empty selection), so
// only `all` is held inline and the other three lists live in a separate block when they differ;
// four lists and a flag inline were 40 bytes, 80 a port.
class EndpointSelection {
 public:
  EndpointSelection() = default;
  // `cluster`, `local` and `all_reachable` are drawn from `all`.
  EndpointSelection(EndpointList all, EndpointList cluster, EndpointList local,
                    EndpointList all_reachable, bool has_any_endpoints);
  EndpointSelection(const EndpointSelection& o);
  EndpointSelection(EndpointSelection&& o) noexcept
      : all_(std::move(o.all_)), rest_(std::exchange(o.rest_, 0)) {}
  EndpointSelection& operator=(EndpointSelection o) noexcept {
    std::swap(all_, o.all_);
    std::swap(rest_, o.rest_);
    return *this;
  }
  ~EndpointSelection();

  // Every endpoint, whatever its condition.
  const EndpointList& all() const { return all_; }
  // For Cluster policies: ready (topology-filtered), else serving+terminating.
  const EndpointList& cluster() const { return Subsets() ? Subsets()->cluster : all_; }
  // For Local policies: ready local, else serving+terminating local.
  const EndpointList& local() const;
  // The union of the sets the service uses; what IPVS programs.
  const EndpointList& all_reachable() const { return Subsets() ? Subsets()->all_reachable : all_; }
  // Some usable endpoint exists anywhere (else: REJECT).
  bool has_any_endpoints() const { return (rest_ & kHasAny) != 0; }

  bool operator==(const EndpointSelection& o) const;

 private:
  struct Subsets_ {
    EndpointList cluster;
    EndpointList local;
    EndpointList all_reachable;
  };
  static constexpr uintptr_t kHasAny = 1;
  const Subsets_* Subsets() const { return reinterpret_cast<const Subsets_*>(rest_ & ~kHasAny); }

  EndpointList all_;
  // The Subsets_ block (null: cluster and all_reachable are `all`, local is empty), and kHasAny.
  uintptr_t rest_ = 0;
};
static_assert(sizeof(void*) != 8 || sizeof(EndpointSelection) == 16);

// Node facts the policy needs.
struct NodeTopology {
  std::string name;
  std::string zone;  // topology.kubernetes.io/zone of this node, may be empty
};

// Pure: applies kube-proxy's endpoint selection rules to `endpoints` (one family, any order).
EndpointSelection SelectEndpoints(const ServicePortInfo& service, const EndpointList& endpoints,
                                  const NodeTopology& node);

}  // namespace kpx
