#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "k8s-watch/client/api_client.h"
#include "k8s-watch/client/api_kinds.h"
#include "k8s-watch/client/backoff.h"
#include "k8s-watch/client/base64.h"
#include "k8s-watch/client/bearer_token_source.h"
#include "k8s-watch/client/line_splitter.h"
#include "k8s-watch/client/typed_reflector_store.h"
#include "k8s-watch/decode/json_text.h"
#include "tests/k8s-watch/client/test_pki.h"
#include "tests/support/api_objects.h"
#include "tests/support/recording_handler.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wire_objects.h"

namespace kpx {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServer;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(Base64Test, RoundTripsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x01\xff\x80 binary"}) {
    std::optional<std::string> back = Base64::Decode(Base64::Encode(s));
    ASSERT_TRUE(back.has_value()) << s;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64::Decode("aGVs\nbG8=\n"), "hello");  // wrapped lines
  EXPECT_FALSE(Base64::Decode("abc").has_value());
  EXPECT_FALSE(Base64::Decode("ab=c").has_value());
  EXPECT_FALSE(Base64::Decode("a===").has_value());
  EXPECT_FALSE(Base64::Decode("ab*d").has_value());
}

TEST(LineSplitterTest, SplitsAcrossArbitraryPieces) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto collect = [&](std::string_view l) {
    lines.emplace_back(l);
    return true;
  };
  const std::string stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"partial\"";
  for (char c : stream) ASSERT_TRUE(splitter.Feed(std::string_view(&c, 1), collect));
  EXPECT_THAT(lines, ElementsAre("{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"));
  EXPECT_EQ(splitter.pending(), "{\"partial\"");
}

TEST(LineSplitterTest, DropsOverlongLinesAndStopsOnRequest) {
  LineSplitter splitter(8);
  std::vector<std::string> lines;
  splitter.Feed("0123456789abc\nshort\nnext\n", [&](std::string_view l) {
    lines.emplace_back(l);
    return lines.size() < 1;
  });
  EXPECT_THAT(lines, ElementsAre("short"));
  EXPECT_EQ(splitter.dropped_lines(), 1u);
}

TEST(BackoffTest, DoublesWithJitterUpToTheCapAndResets) {
  Backoff b({.initial = 100ms, .max = 1000ms, .jitter = 0.2}, 42);
  const std::vector<int> base = {100, 200, 400, 800, 1000, 1000};
  for (int expected : base) {
    const auto d = b.Next().count();
    EXPECT_GE(d, expected);
    EXPECT_LT(d, expected * 1.2 + 1);
  }
  b.Reset();
  EXPECT_LT(b.Next().count(), 121);
}

TEST(BearerTokenSourceTest, FollowsRotationAndKeepsLastGoodValue) {
  testing::TempDir dir;
  const std::string path = dir.Write("token", "first\n");
  BearerTokenSource source("static", path);
  EXPECT_EQ(*source.Get(), "first");
  dir.Write("token", "second-longer");
  EXPECT_EQ(*source.Get(), "second-longer");
  // Same size and (on coarse clocks) same mtime: the inode or mtime still differs after rename.
  const std::string tmp = dir.Write("token.tmp", "third-longer!");
  std::filesystem::rename(tmp, path);
  EXPECT_EQ(*source.Get(), "third-longer!");
  std::filesystem::remove(path);
  EXPECT_EQ(*source.Get(), "third-longer!");  // unreadable: the last good token stays
  EXPECT_EQ(*BearerTokenSource("", "").Get(), "");
  EXPECT_EQ(*BearerTokenSource("tok\n", "").Get(), "tok");
  EXPECT_EQ(*BearerTokenSource("fallback", dir.path() + "/missing").Get(), "fallback");
  EXPECT_FALSE(BearerTokenSource("", dir.path() + "/missing").Get().ok());
}

TEST(ApiClientTest, RejectsBadTlsMaterialAtCreation) {
  const testing::TestPki pki = testing::TestPki::Generate();
  ClientConfig c;
  c.server = "https://127.0.0.1:6443";
  c.origin = "test";
  c.certificate_authority_pem = "not a pem";
  Result<std::unique_ptr<ApiClient>> bad_ca = ApiClient::Create(c);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_THAT(bad_ca.status().message(), HasSubstr("certificate authority"));

  c.certificate_authority_pem = pki.ca_pem;
  c.client_certificate_pem = pki.client_cert_pem;
  c.client_key_pem = pki.server_key_pem;
  Result<std::unique_ptr<ApiClient>> mismatch = ApiClient::Create(c);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not match"));

  c.client_key_pem = pki.client_key_pem;
  EXPECT_TRUE(ApiClient::Create(c).ok());
}

TEST(ApiClientTest, QueryEscape) {
  EXPECT_EQ(ApiClient::QueryEscape("metadata.name=node-a"), "metadata.name%3Dnode-a");
  EXPECT_EQ(ApiClient::QueryEscape("!a/b,!c"), "%21a%2Fb%2C%21c");
}

// The store's diff, fed JSON directly (no HTTP).
class StoreTest : public ::testing::Test {
 protected:
  static rapidjson::Document Parse(const std::string& text) {
    rapidjson::Document d;
    Status s = JsonText::Parse(text, &d);
    EXPECT_TRUE(s.ok()) << s.message();
    return d;
  }
  static std::string Item(const FakeApiServer::Object& object, uint64_t rv) {
    return object.render(rv);
  }
  static std::string Event(const FakeApiServer::Object& object, uint64_t rv) {
    return R"({"kind":"Service","apiVersion":"v1",)" + Item(object, rv).substr(1);
  }
  void ListPage(const std::vector<std::string>& items) {
    std::string body =
        R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[)";
    for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
    store_.AddListPage(Parse(body + "]}"));
  }

  testing::RecordingHandler handler_;
  std::mutex mu_;
  SourceStats stats_;
  TypedReflectorStore<ServiceKind> store_{&handler_, &mu_, &stats_};
};

// Service default/<name> on `cluster_ip`, port 80 unless given, with `labels`; on the wire.
FakeApiServer::Object Svc(const std::string& name, const std::string& cluster_ip, int port = 80,
                          const std::map<std::string, std::string>& labels = {}) {
  return testing::ServiceObject(testing::MakeService("default", name, [&](Service& s) {
    s.cluster_ips = {testing::Ip(cluster_ip)};
    s.ports[0].port = port;
    s.meta.labels = labels;
  }));
}

// The same with an address no struct can hold, edited into the valid object's text.
FakeApiServer::Object SvcWithBadIp(const std::string& name, const std::string& bad_ip) {
  return testing::WithText(Svc(name, "10.96.0.99"), "10.96.0.99", bad_ip);
}

TEST_F(StoreTest, RelistDiffReportsExactlyAddsUpdatesAndDeletes) {
  store_.BeginList();
  ListPage({Item(Svc("keep", "10.96.0.1"), 5), Item(Svc("change", "10.96.0.2"), 6)});
  ListPage({Item(Svc("gone", "10.96.0.3"), 7)});
  store_.CommitList();
  EXPECT_TRUE(store_.synced());
  EXPECT_EQ(handler_.synced("service"), 1);
  handler_.ClearCalls();

  store_.BeginList();
  ListPage({Item(Svc("keep", "10.96.0.1"), 5), Item(Svc("change", "10.96.0.2", 81), 10),
            Item(Svc("new", "10.96.0.4"), 11),
            Item(Svc("proxied-elsewhere", "10.96.0.5", 80,
                     {{"service.kubernetes.io/service-proxy-name", "other"}}),
                 12)});
  store_.CommitList();
  std::vector<std::string> calls;
  for (const auto& c : handler_.calls()) calls.push_back(std::string(1, c.op) + " " + c.key);
  EXPECT_THAT(calls, ElementsAre("D default/gone", "U default/change", "A default/new"));
  EXPECT_EQ(handler_.synced("service"), 1);  // only once
  EXPECT_THAT(handler_.violations(), ::testing::IsEmpty());
}

// Services fail closed: a version that no longer validates withdraws the last good one, which
// may be less restrictive than what the update asks for (e.g. new source ranges).
TEST_F(StoreTest, InvalidServiceUpdateWithdrawsTheLastGoodVersionAndIsCounted) {
  store_.BeginList();
  ListPage({Item(Svc("web", "10.96.0.1"), 5)});
  store_.CommitList();
  handler_.ClearCalls();
  // A MODIFIED whose object no longer validates: counted, and the cached version is deleted.
  store_.Apply(WatchEventType::kModified, Parse(Event(SvcWithBadIp("web", "10.96.999.1"), 6)));
  EXPECT_EQ(stats_.objects_rejected.load(), 1u);
  ASSERT_EQ(handler_.calls().size(), 1u);
  EXPECT_EQ(handler_.calls()[0].op, 'D');
  EXPECT_TRUE(handler_.services().empty());
  handler_.ClearCalls();
  // A relist where it is still invalid changes nothing more.
  store_.BeginList();
  ListPage({Item(SvcWithBadIp("web", "10.96.999.1"), 6)});
  store_.CommitList();
  EXPECT_TRUE(handler_.calls().empty());
  EXPECT_EQ(stats_.objects_rejected.load(), 2u);
  // A valid version brings it back.
  store_.Apply(WatchEventType::kModified, Parse(Event(Svc("web", "10.96.0.1"), 7)));
  ASSERT_EQ(handler_.calls().size(), 1u);
  EXPECT_EQ(handler_.calls()[0].op, 'A');
}

// The same on a relist: the invalid version withdraws the cached one.
TEST_F(StoreTest, InvalidServiceInARelistIsWithdrawn) {
  store_.BeginList();
  ListPage({Item(Svc("web", "10.96.0.1"), 5)});
  store_.CommitList();
  handler_.ClearCalls();
  store_.BeginList();
  ListPage({Item(SvcWithBadIp("web", "10.96.999.1"), 6)});
  store_.CommitList();
  ASSERT_EQ(handler_.calls().size(), 1u);
  EXPECT_EQ(handler_.calls()[0].op, 'D');
}

TEST_F(StoreTest, GainingAnExcludingLabelIsADelete) {
  store_.BeginList();
  store_.CommitList();
  store_.Apply(WatchEventType::kAdded, Parse(Event(Svc("web", "10.96.0.1"), 5)));
  store_.Apply(
      WatchEventType::kModified,
      Parse(Event(Svc("web", "10.96.0.1", 80, {{"service.kubernetes.io/service-proxy-name", "x"}}),
                  6)));
  std::vector<char> ops;
  for (const auto& c : handler_.calls()) ops.push_back(c.op);
  EXPECT_THAT(ops, ElementsAre('S', 'A', 'D'));
  // A replayed ADDED of an unchanged object is not reported again.
  store_.Apply(WatchEventType::kAdded, Parse(Event(Svc("db", "10.96.0.2"), 7)));
  store_.Apply(WatchEventType::kAdded, Parse(Event(Svc("db", "10.96.0.2"), 7)));
  EXPECT_EQ(handler_.calls().size(), 4u);
  EXPECT_EQ(stats_.events_received.load(), 3u);
  EXPECT_THAT(handler_.violations(), ::testing::IsEmpty());
}

// EndpointSlices are kept as identity plus content digest: the old slice of an Update and the
// slice of a Delete carry no endpoints, a relist of the same content delivers nothing, and a
// change to one endpoint's condition is still an update.
TEST(SliceStoreTest, KeepsTheIdentityAndTellsChangesByContent) {
  testing::RecordingHandler handler;
  std::mutex mu;
  SourceStats stats;
  TypedReflectorStore<EndpointSliceKind> store{&handler, &mu, &stats};
  auto slice = [](bool ready) {
    Endpoint ep;
    ep.addresses = {testing::Ip("10.0.0.1")};
    ep.ready = ready;
    ep.node_name = "node-a";
    return testing::SliceObject(testing::MakeSlice("default", "web", "web-1", {ep}));
  };
  auto list = [&](const std::vector<FakeApiServer::Object>& items, uint64_t rv) {
    std::string body = R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1",)"
                       R"("metadata":{"resourceVersion":"9"},"items":[)";
    for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i].render(rv);
    rapidjson::Document d;
    ASSERT_TRUE(JsonText::Parse(body + "]}", &d).ok());
    store.BeginList();
    store.AddListPage(d);
    store.CommitList();
  };
  list({slice(true)}, 5);
  list({slice(true)}, 5);  // the same content again
  list({slice(false)}, 6);
  list({}, 7);
  const auto recorded = handler.calls();  // a copy: the reference below must not dangle
  std::vector<std::string> calls;
  for (const auto& c : recorded) calls.push_back(std::string(1, c.op) + " " + c.key);
  EXPECT_THAT(calls, ElementsAre("A default/web-1", "S ", "U default/web-1", "D default/web-1"));
  ASSERT_EQ(recorded.size(), 4u);
  const auto& update = recorded[2];
  EXPECT_TRUE(update.old_slice->endpoints.empty());
  EXPECT_EQ(update.old_slice->service_name, "web");
  ASSERT_EQ(update.slice->endpoints.size(), 1u);
  EXPECT_FALSE(update.slice->endpoints[0].ready);
  EXPECT_EQ(recorded[3].slice->service_name, "web");
  EXPECT_THAT(handler.violations(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace kpx
