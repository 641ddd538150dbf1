#pragma once

#include <string>

namespace kpx {

// One object a ListDecoder could not turn into a struct.
struct DecodeFailure {
  // "Service", "EndpointSlice" or "Node" when the object's kind was known, else empty.
  std::string kind;
  // "namespace/name" (or "name" for a Node) when the object's metadata named it validly, else
  // empty. Lets a source keep the last good version of an object whose new version is broken.
  std::string key;
  // A complete one-line reason naming the object and field, safe to log as is.
  std::string message;
  // True for objects kpx ignores on purpose (an FQDN EndpointSlice): count them as skipped, not as
  // invalid input.
  bool unsupported = false;
  // True for a well-formed object of a kind kpx does not use (a Deployment or ConfigMap in a
  // manifest stream): not an error, skipped with a debug line.
  bool other_kind = false;

  bool operator==(const DecodeFailure&) const = default;
};

}  // namespace kpx
