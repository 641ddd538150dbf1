#include "base/enum_names.h"

#include <gtest/gtest.h>

#include "base/protocol.h"

namespace kpx {
namespace {

using namespace std::string_view_literals;
enum class Colour { kRed, kGreen, kBlue };
constexpr EnumNames kColours(std::array{std::pair{Colour::kRed, "red"sv},
                                        std::pair{Colour::kGreen, "green"sv},
                                        std::pair{Colour::kRed, "crimson"sv}});

TEST(EnumNamesTest, FirstEntryIsThePrintedNameLaterOnesAreAliases) {
  EXPECT_EQ(kColours.Name(Colour::kRed), "red");
  EXPECT_EQ(kColours.Parse("red"), Colour::kRed);
  EXPECT_EQ(kColours.Parse("crimson"), Colour::kRed);
  EXPECT_EQ(kColours.Name(Colour::kGreen), "green");
}

TEST(EnumNamesTest, UnknownNamesAndValues) {
  EXPECT_EQ(kColours.Parse("Red"), std::nullopt);  // case matters, as in the API
  EXPECT_EQ(kColours.Parse(""), std::nullopt);
  EXPECT_EQ(kColours.Name(Colour::kBlue), "?");
  EXPECT_EQ(kColours.Name(Colour::kBlue, "none"), "none");
}

TEST(EnumNamesTest, UsableAtCompileTime) {
  static_assert(kColours.Name(Colour::kGreen) == "green");
  static_assert(kColours.Parse("crimson") == Colour::kRed);
}

TEST(ProtocolNamesTest, EveryProtocolRoundTrips) {
  for (Protocol p : {Protocol::kTCP, Protocol::kUDP, Protocol::kSCTP}) {
    EXPECT_EQ(ParseProtocol(ProtocolName(p)), p);
  }
  EXPECT_EQ(ProtocolLowerName(Protocol::kSCTP), "sctp");
  EXPECT_EQ(ParseProtocol("tcp"), std::nullopt);
}

}  // namespace
}  // namespace kpx
