#pragma once

#include "k8s-watch/objects/node.h"

namespace kpx {

// Receives events for this node's own Node object from a source (API watcher or manifest
// directory). Calls for one source come from one thread at a time; implementations shared between
// sources must lock.
class NodeHandler {
 public:
  virtual ~NodeHandler() = default;
  virtual void OnNodeAdd(const Node& node) = 0;
  virtual void OnNodeUpdate(const Node& old_node, const Node& node) = 0;
  virtual void OnNodeDelete(const Node& node) = 0;
  // The initial listing is complete: the Node, if it existed then has been added.
  virtual void OnNodeSynced() = 0;
};

}  // namespace kpx
