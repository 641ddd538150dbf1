#pragma once

#include <cstddef>
#include <string_view>

// The Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation). Names decoded from the API
// end up in iptables comments, chain-name hashes and log lines, so anything the API server would
// not have accepted is refused rather than escaped.
namespace kpx::dns {

inline constexpr size_t kLabelMaxLength = 63;
inline constexpr size_t kSubdomainMaxLength = 253;

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters: namespaces, Service names (a superset of
// the DNS-1035 rule the API applied before RelaxedServiceNameValidation), port names.
bool IsDns1123Label(std::string_view s);
// Dot-separated DNS-1123 labels, at most 253 characters: EndpointSlice and Node names.
bool IsDns1123Subdomain(std::string_view s);

}  // namespace kpx::dns
