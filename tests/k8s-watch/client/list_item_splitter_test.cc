#include "k8s-watch/client/list_item_splitter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Split {
  std::vector<std::string> heads;  // on_items_start
  std::vector<std::string> items;
  std::vector<size_t> oversized;
  bool fed = false;
  Result<std::string> envelope = Status::Error("not finished");
};

// Feeds `text` in pieces of `piece` bytes (the whole at once for 0).
Split SplitInPieces(const std::string& text, size_t piece, size_t max_item = 1 << 20,
                    size_t max_envelope = 1 << 20) {
  Split out;
  ListItemSplitter splitter(max_item, max_envelope);
  ListItemSplitter::Callbacks callbacks;
  callbacks.on_items_start = [&](std::string_view head) {
    out.heads.emplace_back(head);
    return true;
  };
  callbacks.on_item = [&](std::string_view item) {
    out.items.emplace_back(item);
    return true;
  };
  callbacks.on_oversized = [&](size_t bytes) { out.oversized.push_back(bytes); };
  out.fed = true;
  const size_t step = piece == 0 ? text.size() : piece;
  for (size_t i = 0; i < text.size() && out.fed; i += step) {
    out.fed = splitter.Feed(std::string_view(text).substr(i, step), callbacks);
  }
  out.envelope = splitter.Finish();
  return out;
}

// Strings holding every character that means something outside a string, escaped quotes and
// backslashes, nested objects and arrays, an "items" key deeper down, and whitespace everywhere.
const std::string kList =
    "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"7\","
    "\"x\":{\"items\":[1,2]}},\n \"items\" : [\n"
    "  {\"metadata\":{\"name\":\"a\"},\"s\":\"}]{[,:\\\"\\\\\"},\n"
    "  {\"spec\":{\"ports\":[{\"port\":80},{\"port\":443}]},\"e\":\"\\\\\"} ,"
    "{}\n ] , \"tail\":\"]}\" }\n";

TEST(ListItemSplitterTest, SplitsItemsWhateverThePieceBoundaries) {
  for (size_t piece : {0, 1, 2, 3, 5, 7, 13, 64}) {
    SCOPED_TRACE(piece);
    const Split s = SplitInPieces(kList, piece);
    ASSERT_TRUE(s.fed);
    EXPECT_THAT(s.items, ElementsAre("{\"metadata\":{\"name\":\"a\"},\"s\":\"}]{[,:\\\"\\\\\"}",
                                     "{\"spec\":{\"ports\":[{\"port\":80},{\"port\":443}]},"
                                     "\"e\":\"\\\\\"}",
                                     "{}"));
    ASSERT_TRUE(s.envelope.ok()) << s.envelope.status().message();
    EXPECT_EQ(*s.envelope,
              "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
              "\"7\",\"x\":{\"items\":[1,2]}},\n \"items\" : []"
              " , \"tail\":\"]}\" }\n");
    // What comes before the items, closed into a document: the kind to decode them as.
    EXPECT_THAT(s.heads, ElementsAre("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":"
                                     "{\"resourceVersion\":\"7\",\"x\":{\"items\":[1,2]}},\n "
                                     "\"items\" : []}"));
    EXPECT_TRUE(s.oversized.empty());
  }
}

TEST(ListItemSplitterTest, ScalarAndEmptyItems) {
  for (size_t piece : {0, 1}) {
    const Split s = SplitInPieces("{\"items\":[1, \"x,]\" ,true,null , -2.5e3]}", piece);
    ASSERT_TRUE(s.envelope.ok());
    EXPECT_THAT(s.items, ElementsAre("1", "\"x,]\"", "true", "null", "-2.5e3"));
    EXPECT_EQ(*s.envelope, "{\"items\":[]}");
  }
  const Split empty = SplitInPieces("{\"items\":[],\"metadata\":{}}", 1);
  EXPECT_TRUE(empty.items.empty());
  EXPECT_EQ(*empty.envelope, "{\"items\":[],\"metadata\":{}}");
  const Split none = SplitInPieces("{\"kind\":\"ServiceList\",\"items\":null}", 0);
  EXPECT_TRUE(none.items.empty());
  EXPECT_EQ(*none.envelope, "{\"kind\":\"ServiceList\",\"items\":null}");
}

TEST(ListItemSplitterTest, OversizedItemIsSkippedNotKept) {
  const std::string big = "{\"pad\":\"" + std::string(5000, 'x') + "\"}";
  for (size_t piece : {0, 1, 100}) {
    const Split s = SplitInPieces("{\"items\":[{\"a\":1}," + big + ",{\"b\":2}]}", piece, 1000);
    ASSERT_TRUE(s.envelope.ok());
    EXPECT_THAT(s.items, ElementsAre("{\"a\":1}", "{\"b\":2}"));
    EXPECT_THAT(s.oversized, ElementsAre(big.size()));
  }
}

TEST(ListItemSplitterTest, NotAListIsAnError) {
  EXPECT_THAT(SplitInPieces("[{\"a\":1}]", 0).envelope.status().message(),
              HasSubstr("not a JSON object"));
  EXPECT_THAT(SplitInPieces("{\"items\":[{\"a\":1}", 1).envelope.status().message(),
              HasSubstr("ended early"));
  EXPECT_THAT(SplitInPieces("{\"items\":[\"abc", 0).envelope.status().message(),
              HasSubstr("ended early"));
  EXPECT_THAT(SplitInPieces("{\"items\":[]} {}", 0).envelope.status().message(),
              HasSubstr("data after the end"));
  EXPECT_THAT(SplitInPieces("", 0).envelope.status().message(), HasSubstr("empty"));
  const Split huge = SplitInPieces(
      "{\"metadata\":{\"x\":\"" + std::string(4096, 'y') + "\"},\"items\":[]}", 7, 1 << 20, 1024);
  EXPECT_FALSE(huge.fed);
  EXPECT_THAT(huge.envelope.status().message(), HasSubstr("over 1024 bytes"));
}

TEST(ListItemSplitterTest, CallbackStopsTheSplit) {
  ListItemSplitter splitter(1 << 20, 1 << 20);
  int seen = 0;
  ListItemSplitter::Callbacks callbacks;
  callbacks.on_item = [&](std::string_view) { return ++seen < 2; };
  EXPECT_FALSE(splitter.Feed("{\"items\":[1,2,3]}", callbacks));
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(splitter.error().ok());
}

}  // namespace
}  // namespace kpx
