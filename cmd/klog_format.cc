#include "cmd/klog_format.h"

#include <glog/logging.h>

#include <cstdio>

namespace kpx {

void KlogPrefix(std::ostream& s, const google::LogMessageInfo& info, void*) {
  char buf[64];
  const auto& t = info.time;
  std::snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06d %7d ", info.severity[0],
                1 + t.month(), t.day(), t.hour(), t.min(), t.sec(), static_cast<int>(t.usec()),
                info.thread_id);
  s << buf << info.filename << ':' << info.line_number << "]";
}

}  // namespace kpx
