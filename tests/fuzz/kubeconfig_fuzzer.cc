// A kubeconfig file. Relative paths resolve under a directory that does not exist, so the
// loader's file reads fail cleanly instead of touching the machine.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s-watch/client/kubeconfig_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kpx::KubeconfigLoader::Parse(text, "/nonexistent-kpx-fuzz", "fuzz");
  return 0;
}
