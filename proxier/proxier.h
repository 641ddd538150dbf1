#pragma once

#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx {

// What cmd/ wires sources to: receives object events and keeps the kernel in line with them.
class Proxier : public ServiceHandler, public EndpointSliceHandler, public NodeHandler {
 public:
  // Applies the current state now, on the calling thread. Returns false when the dataplane failed.
  virtual bool Sync() = 0;
  // Runs the sync loop until Stop(); blocks.
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

}  // namespace kpx
