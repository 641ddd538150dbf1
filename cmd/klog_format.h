#pragma once

#include <ostream>

namespace google {
struct LogMessageInfo;
}

namespace kpx {

// glog prefix callback writing klog's header ("I1126 02:24:33.277446   12545 file.cc:206] "),
// so log scrapers written for kube-proxy parse kpx's lines too.
void KlogPrefix(std::ostream& s, const google::LogMessageInfo& info, void* unused);

}  // namespace kpx
