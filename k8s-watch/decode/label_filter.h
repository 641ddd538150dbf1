#pragma once

#include <map>
#include <string>

#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/service.h"

namespace kpx {

// The label selector kube-proxy puts on its Service and EndpointSlice informers, as a predicate.
// The API source sends kSelector to the server; the manifest source (and the API source, as a
// safety net) drop what Skip* says. kube-proxy applies one selector to both kinds, so both
// labels are honoured on both kinds here too.
class LabelFilter {
 public:
  // Objects meant for another proxy implementation.
  static constexpr char kServiceProxyName[] = "service.kubernetes.io/service-proxy-name";
  // Set by the EndpointSlice controller on slices of headless Services.
  static constexpr char kHeadless[] = "service.kubernetes.io/headless";
  // The same rule in label-selector syntax, for list/watch requests.
  static constexpr char kSelector[] =
      "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

  static bool Skip(const std::map<std::string, std::string>& labels);
  static bool SkipService(const Service& service) { return Skip(service.meta.labels); }
  static bool SkipEndpointSlice(const EndpointSlice& slice) { return Skip(slice.meta.labels); }
};

}  // namespace kpx
