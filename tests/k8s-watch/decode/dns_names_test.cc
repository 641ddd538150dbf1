#include "k8s-watch/decode/dns_names.h"

#include <gtest/gtest.h>

#include <string>

namespace kpx::dns {
namespace {

struct NameCase {
  std::string name;
  bool label;
  bool subdomain;
};

TEST(DnsNamesTest, Rules) {
  const NameCase cases[] = {
      {"web", true, true},
      {"a", true, true},
      {"0abc", true, true},
      {"web-1", true, true},
      {"web.example", false, true},
      {"", false, false},
      {"Web", false, false},
      {"-web", false, false},
      {"web-", false, false},
      {"web_1", false, false},
      {"web..x", false, false},
      {".web", false, false},
      {"web.", false, false},
      {"web\nx", false, false},
      {"web\"x", false, false},
      {"web x", false, false},
      {std::string(63, 'a'), true, true},
      {std::string(64, 'a'), false, true},
      {std::string(253, 'a'), false, true},
      {std::string(254, 'a'), false, false},
      {std::string("we\0b", 4), false, false},
  };
  for (const NameCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(IsDns1123Label(c.name), c.label);
    EXPECT_EQ(IsDns1123Subdomain(c.name), c.subdomain);
  }
}

}  // namespace
}  // namespace kpx::dns
