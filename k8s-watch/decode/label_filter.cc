#include "k8s-watch/decode/label_filter.h"

#include <string>

namespace kpx {

bool LabelFilter::Skip(const std::map<std::string, std::string>& labels) {
  // "!label" selects objects without the label at all: an empty value still excludes. The keys
  // are made once: the map's lookup by a `const char*` built a std::string per call, two heap
  // blocks per object decoded.
  static const std::string* const proxy_name = new std::string(kServiceProxyName);
  static const std::string* const headless = new std::string(kHeadless);
  return labels.contains(*proxy_name) || labels.contains(*headless);
}

}  // namespace kpx
