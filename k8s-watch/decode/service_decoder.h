#pragma once

#include <rapidjson/document.h>

#include "base/status.h"
#include "k8s-watch/objects/service.h"

namespace kpx {

// Turns a v1 Service as the API server serves it into a validated Service. Strict about the
// fields kpx uses (an invalid address, port or protocol rejects the whole object, as the API
// server would have), silent about everything else. Errors read
// "service default/web: spec.ports[1].port: 70000 out of range".
class ServiceDecoder {
 public:
  static Result<Service> Decode(const rapidjson::Value& object);
};

inline Result<Service> DecodeService(const rapidjson::Value& object) {
  return ServiceDecoder::Decode(object);
}

}  // namespace kpx
