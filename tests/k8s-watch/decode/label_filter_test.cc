#include "k8s-watch/decode/label_filter.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

TEST(LabelFilterTest, SkipsWhatKubeProxySelectsAway) {
  struct Case {
    std::map<std::string, std::string> labels;
    bool skip;
  };
  const Case cases[] = {
      {{}, false},
      {{{"app", "web"}, {"kubernetes.io/service-name", "web"}}, false},
      {{{"service.kubernetes.io/service-proxy-name", "cilium"}}, true},
      {{{"service.kubernetes.io/service-proxy-name", ""}}, true},
      {{{"service.kubernetes.io/headless", ""}}, true},
      {{{"service.kubernetes.io/headlessx", ""}}, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LabelFilter::Skip(c.labels), c.skip);
    Service svc;
    svc.meta.labels = c.labels;
    EXPECT_EQ(LabelFilter::SkipService(svc), c.skip);
    EndpointSlice slice;
    slice.meta.labels = c.labels;
    EXPECT_EQ(LabelFilter::SkipEndpointSlice(slice), c.skip);
  }
  EXPECT_STREQ(LabelFilter::kSelector,
               "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless");
}

}  // namespace
}  // namespace kpx
