#include "proxier/core/endpoint_list.h"

#include <gtest/gtest.h>

#include <memory>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

std::shared_ptr<const EndpointInfo> Ep(const char* ip) {
  auto e = std::make_shared<EndpointInfo>();
  e->ip = Ip(ip);
  e->port = 80;
  return e;
}

TEST(EndpointListTest, EmptyListHasNoArray) {
  const EndpointList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
  const EndpointList from_empty_vector{EndpointVector{}};
  EXPECT_TRUE(from_empty_vector.empty());
}

TEST(EndpointListTest, CopiesShareTheArray) {
  const EndpointList a{Ep("10.0.0.1"), Ep("10.0.0.2")};
  const EndpointList b = a;
  EXPECT_TRUE(b.SharesWith(a));
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1]->ip, Ip("10.0.0.2"));
  EXPECT_EQ(&*a.begin(), &*b.begin());  // the same elements, not equal ones
}

TEST(EndpointListTest, PushBackOnASharedListLeavesTheOtherAlone) {
  EndpointList a{Ep("10.0.0.1")};
  const EndpointList b = a;
  a.push_back(Ep("10.0.0.2"));
  EXPECT_FALSE(a.SharesWith(b));
  EXPECT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.front()->ip, Ip("10.0.0.1"));
  EXPECT_EQ(a.back()->ip, Ip("10.0.0.2"));

  EndpointList built;  // appending to an unshared list stays one array
  built.push_back(Ep("10.0.0.3"));
  built.push_back(Ep("10.0.0.4"));
  EXPECT_EQ(built.size(), 2u);
  EXPECT_EQ(built.front()->ip, Ip("10.0.0.3"));
}

}  // namespace
}  // namespace kpx
