// A KubeProxyConfiguration file, then the validation kpx applies to it.

#include <cstddef>
#include <cstdint>
#include <string>

#include "cmd/config_file.h"
#include "cmd/kpx_flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = kpx::ParseConfigText(text, kpx::KpxConfig{});
  if (config.ok()) (void)kpx::ValidateConfig(*config);
  return 0;
}
