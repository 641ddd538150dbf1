#include "k8s-watch/decode/label_filter.h"

namespace kpx {

bool LabelFilter::Skip(const std::map<std::string, std::string>& labels) {
  // "!label" selects objects without the label at all: an empty value still excludes.
  return labels.contains(kServiceProxyName) || labels.contains(kHeadless);
}

}  // namespace kpx
