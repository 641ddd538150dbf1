#include "k8s-watch/manifest/manifest_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/k8s-watch/manifest/log_capture.h"
#include "tests/support/recording_handler.h"
#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

using testing::RecordingHandler;
using Events = std::vector<std::string>;

// IP plan: ClusterIPs 10.96.0.0/16, pods 10.99.1.0/24 on kpx-node, 10.99.2.0/24 on kpx-peer.
constexpr char kNodeName[] = "kpx-node";

std::string ServiceYaml(const std::string& name, int port, const std::string& labels = "{}") {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
         "\n  namespace: demo\n  labels: " + labels +
         "\nspec:\n  clusterIP: 10.96.0.10\n  ports:\n    - name: http\n      port: " +
         std::to_string(port) + "\n";
}

std::string SliceYaml(const std::string& name, const std::string& service, const char* ip,
                      const std::string& address_type = "IPv4") {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + name +
         "\n  namespace: demo\n  labels: {kubernetes.io/service-name: " + service +
         "}\naddressType: " + address_type + "\nendpoints:\n  - addresses: [\"" + ip +
         "\"]\n    nodeName: kpx-node\nports:\n  - {name: http, port: 8080}\n";
}

std::string NodeYaml(const std::string& name, const std::string& ip) {
  return "apiVersion: v1\nkind: Node\nmetadata: {name: " + name +
         "}\nstatus:\n  addresses: [{type: InternalIP, address: " + ip + "}]\n";
}

class ManifestSourceTest : public ::testing::Test {
 protected:
  // Whatever a case did, the source kept exact add/update/delete semantics towards its handlers.
  void TearDown() override {
    source_.reset();
    EXPECT_THAT(handler_.violations(), ::testing::IsEmpty());
  }

  void StartSource(size_t initial_batch_objects = ManifestSource::kInitialBatchObjects) {
    source_ = std::make_unique<ManifestSource>(dir_.path(), kNodeName, &handler_, &handler_,
                                               &handler_, &stats_, initial_batch_objects);
    Status s = source_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // Waits until `n` calls in total were recorded, with a message listing what was seen.
  void WaitFor(size_t n) {
    ASSERT_TRUE(handler_.WaitForCalls(n)) << "wanted " << n << " calls, got:\n" << Dump();
  }

  // The events recorded after the first `from`.
  Events EventsFrom(size_t from) const {
    Events all = handler_.events();
    return Events(all.begin() + static_cast<long>(std::min(from, all.size())), all.end());
  }

  std::string Dump() const {
    std::string out;
    for (const std::string& e : handler_.events()) out += "  " + e + "\n";
    return out;
  }

  // A change whose delivery proves every earlier change was processed: rescans are sequential.
  void Barrier(size_t calls_before) {
    const std::string n = std::to_string(++barrier_);
    dir_.WriteAtomically("zz-barrier-" + n + ".yaml", ServiceYaml("barrier" + n, 1));
    WaitFor(calls_before + 1);
  }

  testing::TempDir dir_;
  RecordingHandler handler_;
  SourceStats stats_;
  testing::LogCapture logs_;
  std::unique_ptr<ManifestSource> source_;
  int barrier_ = 0;
};

const Events kSynced = {"service synced", "endpointslice synced", "node synced"};

TEST_F(ManifestSourceTest, InitialSyncDeliversObjectsThenSyncedOnce) {
  dir_.Write("web.yaml",
             ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.11"));
  dir_.Write("list.json", R"({"kind": "List", "apiVersion": "v1", "items": [
      {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "api", "namespace": "demo"},
       "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 8080}]}},
      {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "kpx-node"}},
      {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "kpx-peer"}}]})");
  dir_.Write("notes.txt", "not a manifest");
  StartSource();
  // Delivered synchronously by Start, in kind and key order, then the synced signals.
  EXPECT_EQ(handler_.events(),
            (Events{"service add demo/api", "service add demo/web", "endpointslice add demo/web-1",
                    "node add kpx-node", "service synced", "endpointslice synced", "node synced"}));
  EXPECT_EQ(stats_.events_received, 4u);
  EXPECT_EQ(stats_.objects_rejected, 0u);
  auto calls = handler_.calls();
  EXPECT_EQ(calls[1].service->ports[0].port, 80);
  EXPECT_EQ(calls[2].slice->endpoints[0].addresses[0].ToString(), "10.99.1.11");
}

TEST_F(ManifestSourceTest, EmptyDirectoryStillSyncs) {
  StartSource();
  EXPECT_EQ(handler_.events(), kSynced);
}

TEST_F(ManifestSourceTest, StartFailsForMissingDirectory) {
  ManifestSource source(dir_.File("missing"), kNodeName, &handler_, &handler_, &handler_, &stats_);
  Status s = source.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
  EXPECT_EQ(handler_.call_count(), 0u);  // no synced signal from a source that never listed
}

TEST_F(ManifestSourceTest, FileAddedChangedRemoved) {
  StartSource();
  const size_t base = handler_.call_count();

  dir_.Write("web.yaml", ServiceYaml("web", 80));
  WaitFor(base + 1);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/web"});

  dir_.Write("web.yaml", ServiceYaml("web", 81));
  WaitFor(base + 2);
  auto update = handler_.calls()[base + 1];
  EXPECT_EQ(update.event, "service update demo/web");
  // The old Service is its identity alone (KeptService).
  EXPECT_EQ(update.old_service->meta.Key(), "demo/web");
  EXPECT_TRUE(update.old_service->ports.empty());
  EXPECT_EQ(update.service->ports[0].port, 81);

  dir_.Remove("web.yaml");
  WaitFor(base + 3);
  auto del = handler_.calls()[base + 2];
  EXPECT_EQ(del.event, "service delete demo/web");
  EXPECT_EQ(del.service->meta.Key(), "demo/web");
  EXPECT_TRUE(del.service->ports.empty());
  EXPECT_EQ(stats_.events_received, 3u);
}

// A delivered slice is kept as its identity and a digest of its content: Update and Delete hand
// over that identity (no endpoints), Add and Update the whole new slice, and a change that only
// flips an endpoint's condition is still seen.
TEST_F(ManifestSourceTest, SliceUpdatesHandOverTheIdentityAndTheWholeNewSlice) {
  dir_.Write("web.yaml", SliceYaml("web-1", "web", "10.99.1.5"));
  StartSource();
  const size_t base = handler_.call_count();

  dir_.WriteAtomically("web.yaml", SliceYaml("web-1", "web", "10.99.1.6"));
  WaitFor(base + 1);
  auto update = handler_.calls()[base];
  EXPECT_EQ(update.event, "endpointslice update demo/web-1");
  EXPECT_EQ(update.old_slice->meta.Key(), "demo/web-1");
  EXPECT_EQ(update.old_slice->service_name, "web");
  EXPECT_EQ(update.old_slice->address_type, IpFamily::kIPv4);
  EXPECT_TRUE(update.old_slice->endpoints.empty());
  ASSERT_EQ(update.slice->endpoints.size(), 1u);
  EXPECT_EQ(update.slice->endpoints[0].addresses[0].ToString(), "10.99.1.6");
  EXPECT_EQ(update.slice->ports[0].port, 8080);

  std::string not_ready = SliceYaml("web-1", "web", "10.99.1.6");
  const std::string node_line = "    nodeName: kpx-node\n";
  not_ready.replace(not_ready.find(node_line), node_line.size(),
                    node_line + "    conditions: {ready: false}\n");
  dir_.WriteAtomically("web.yaml", not_ready);
  WaitFor(base + 2);
  update = handler_.calls()[base + 1];
  EXPECT_EQ(update.event, "endpointslice update demo/web-1");
  ASSERT_EQ(update.slice->endpoints.size(), 1u);
  EXPECT_FALSE(update.slice->endpoints[0].ready);

  dir_.Remove("web.yaml");
  WaitFor(base + 3);
  auto del = handler_.calls()[base + 2];
  EXPECT_EQ(del.event, "endpointslice delete demo/web-1");
  EXPECT_EQ(del.slice->service_name, "web");
}

// The overridden definition of a duplicate slice was read long ago and its endpoints were not
// kept; when the overriding file goes, the source reads it again to hand over the whole slice.
TEST_F(ManifestSourceTest, DuplicateSliceWinningAgainIsReadAgain) {
  dir_.Write("a.yaml", SliceYaml("web-1", "web", "10.99.1.5"));
  dir_.Write("b.yaml", SliceYaml("web-1", "web", "10.99.1.6"));
  StartSource();
  ASSERT_EQ(handler_.events()[0], "endpointslice add demo/web-1");
  EXPECT_EQ(handler_.calls()[0].slice->endpoints[0].addresses[0].ToString(), "10.99.1.6");
  const size_t base = handler_.call_count();

  dir_.Remove("b.yaml");
  WaitFor(base + 1);
  auto update = handler_.calls()[base];
  EXPECT_EQ(update.event, "endpointslice update demo/web-1");
  ASSERT_EQ(update.slice->endpoints.size(), 1u);
  EXPECT_EQ(update.slice->endpoints[0].addresses[0].ToString(), "10.99.1.5");

  // An identical duplicate appearing again changes nothing the handlers see.
  dir_.Write("c.yaml", SliceYaml("web-1", "web", "10.99.1.5"));
  Barrier(base + 1);
  EXPECT_EQ(EventsFrom(base + 1), Events{"service add demo/barrier1"});
}

// What each duplicate definition holds is remembered while there are several, so that the one
// winning again is compared with what was delivered: delivered if it differs, not if it does not.
TEST_F(ManifestSourceTest, DuplicateWinningAgainIsComparedWithWhatWasDelivered) {
  dir_.Write("a.yaml", ServiceYaml("web", 80));
  dir_.Write("b.yaml", ServiceYaml("web", 81));
  StartSource();
  ASSERT_EQ(handler_.calls()[0].service->ports[0].port, 81);
  size_t base = handler_.call_count();

  // b.yaml wins, so an edit to a.yaml delivers nothing, until b.yaml goes.
  dir_.WriteAtomically("a.yaml", ServiceYaml("web", 82));
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});
  base = handler_.call_count();
  dir_.Remove("b.yaml");
  WaitFor(base + 1);
  EXPECT_EQ(EventsFrom(base), Events{"service update demo/web"});
  EXPECT_EQ(handler_.calls()[base].service->ports[0].port, 82);

  // A duplicate equal to the delivered version changes nothing when it takes over, nor when the
  // one it took over from goes.
  base = handler_.call_count();
  dir_.WriteAtomically("c.yaml", ServiceYaml("web", 82));
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier2"});
  base = handler_.call_count();
  dir_.Remove("c.yaml");
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier3"});
  base = handler_.call_count();
  dir_.Remove("a.yaml");
  WaitFor(base + 1);
  EXPECT_EQ(EventsFrom(base), Events{"service delete demo/web"});
  EXPECT_EQ(stats_.objects_rejected, 0u);
}

// A file that defines one key twice: the later definition is the file's, and the key goes with
// the file.
TEST_F(ManifestSourceTest, KeyDefinedTwiceInOneFile) {
  dir_.Write("a.yaml", ServiceYaml("web", 80) + "---\n" + ServiceYaml("web", 81));
  StartSource();
  ASSERT_EQ(handler_.calls()[0].event, "service add demo/web");
  EXPECT_EQ(handler_.calls()[0].service->ports[0].port, 81);
  const size_t base = handler_.call_count();
  dir_.Remove("a.yaml");
  WaitFor(base + 1);
  EXPECT_EQ(EventsFrom(base), Events{"service delete demo/web"});
}

// Issue 17 item 2: out of file descriptors, a rescan cannot list the directory or read a file;
// the change that triggered it used to be lost for good (nothing triggered another rescan). The
// source must retry until the change is read.
TEST_F(ManifestSourceTest, ChangeMissedForLackOfFileDescriptorsIsPickedUpLater) {
  StartSource();
  const size_t base = handler_.call_count();
  // Staged under a name that is not a manifest; the rename below needs no descriptor.
  dir_.Write("web.staged", ServiceYaml("web", 80));
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<int> fillers;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fillers.size() < 100000;) {
    fillers.push_back(fd);
  }
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(fillers.back()) + 1;  // not one descriptor left
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  ASSERT_EQ(std::rename(dir_.File("web.staged").c_str(), dir_.File("web.yaml").c_str()), 0);
  // The rescan this triggers fails; give it time to (not a bound on anything).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const size_t during = handler_.call_count();
  for (int fd : fillers) close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(during, base);  // nothing could be read while out of descriptors
  WaitFor(base + 1);
  EXPECT_EQ(handler_.events()[base], "service add demo/web");
}

TEST_F(ManifestSourceTest, RenamedIntoPlaceAndAway) {
  testing::TempDir elsewhere;
  StartSource();
  const size_t base = handler_.call_count();

  dir_.WriteAtomically("web.yaml", ServiceYaml("web", 80));
  WaitFor(base + 1);
  dir_.WriteAtomically("web.yaml", ServiceYaml("web", 8080));
  WaitFor(base + 2);
  auto update = handler_.calls()[base + 1];
  EXPECT_EQ(update.event, "service update demo/web");
  // The old Service is its identity alone (KeptService).
  EXPECT_EQ(update.old_service->meta.Key(), "demo/web");
  EXPECT_TRUE(update.old_service->ports.empty());
  EXPECT_EQ(update.service->ports[0].port, 8080);

  // Renaming to a name that is not a manifest counts as removing it.
  dir_.Rename("web.yaml", "web.yaml.bak");
  WaitFor(base + 3);
  EXPECT_EQ(handler_.events()[base + 2], "service delete demo/web");
  dir_.Rename("web.yaml.bak", "web.yml");
  WaitFor(base + 4);
  EXPECT_EQ(handler_.events()[base + 3], "service add demo/web");
  ASSERT_EQ(std::rename(dir_.File("web.yml").c_str(), elsewhere.File("web.yml").c_str()), 0);
  WaitFor(base + 5);
  EXPECT_EQ(handler_.events()[base + 4], "service delete demo/web");
}

// Kubernetes ConfigMap volumes: files are symlinks through "..data", which is swapped atomically.
TEST_F(ManifestSourceTest, ConfigMapStyleSymlinkSwap) {
  ASSERT_EQ(mkdir(dir_.File("..v1").c_str(), 0755), 0);
  dir_.Write("..v1/web.yaml", ServiceYaml("web", 80));
  ASSERT_EQ(symlink("..v1", dir_.File("..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/web.yaml", dir_.File("web.yaml").c_str()), 0);
  StartSource();
  ASSERT_EQ(handler_.events()[0], "service add demo/web");
  const size_t base = handler_.call_count();

  ASSERT_EQ(mkdir(dir_.File("..v2").c_str(), 0755), 0);
  dir_.Write("..v2/web.yaml", ServiceYaml("web", 81));
  ASSERT_EQ(symlink("..v2", dir_.File("..data_tmp").c_str()), 0);
  dir_.Rename("..data_tmp", "..data");
  WaitFor(base + 1);
  auto update = handler_.calls()[base];
  EXPECT_EQ(update.event, "service update demo/web");
  EXPECT_EQ(update.service->ports[0].port, 81);
}

TEST_F(ManifestSourceTest, RewritingIdenticalContentDeliversNothing) {
  dir_.Write("web.yaml", ServiceYaml("web", 80));
  StartSource();
  const size_t base = handler_.call_count();
  dir_.Write("web.yaml", ServiceYaml("web", 80));
  dir_.WriteAtomically("web.yaml", ServiceYaml("web", 80));
  // Same objects in a different layout: no change either.
  dir_.WriteAtomically("web.yaml", "# reformatted\n" + ServiceYaml("web", 80));
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});
}

// Only a digest of the bytes is kept: going back to earlier bytes is still a change.
TEST_F(ManifestSourceTest, EditingBackToEarlierBytesDeliversEachChange) {
  dir_.Write("web.yaml", ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  StartSource();
  const size_t base = handler_.call_count();
  dir_.WriteAtomically("web.yaml",
                       ServiceYaml("web", 81) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  WaitFor(base + 1);
  dir_.WriteAtomically("web.yaml",
                       ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  WaitFor(base + 2);
  Barrier(base + 2);
  // The slice, unchanged in every version, is never updated.
  EXPECT_EQ(EventsFrom(base), (Events{"service update demo/web", "service update demo/web",
                                      "service add demo/barrier1"}));
}

TEST_F(ManifestSourceTest, BrokenFileKeepsItsObjects) {
  dir_.Write("web.yaml",
             ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.11"));
  StartSource();
  const size_t base = handler_.call_count();

  dir_.WriteAtomically("web.yaml", "kind: Service\nmetadata: [unclosed\n");
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});  // nothing torn down
  EXPECT_EQ(stats_.objects_rejected, 1u);
  EXPECT_EQ(logs_.CountMatching({"web.yaml", "skipped", "YAML",
                                 "keeping the 2 object(s) of its last good version"}),
            1u)
      << ::testing::PrintToString(logs_.Warnings());

  // Another change elsewhere does not re-report the broken file.
  Barrier(base + 1);
  EXPECT_EQ(stats_.objects_rejected, 1u);

  // Fixing the file resumes normal diffing against the kept version.
  dir_.WriteAtomically("web.yaml",
                       ServiceYaml("web", 81) + "---\n" + SliceYaml("web-1", "web", "10.99.1.11"));
  WaitFor(base + 3);
  auto update = handler_.calls()[base + 2];
  EXPECT_EQ(update.event, "service update demo/web");
  // The old Service is its identity alone (KeptService).
  EXPECT_EQ(update.old_service->meta.Key(), "demo/web");
  EXPECT_TRUE(update.old_service->ports.empty());
  EXPECT_EQ(update.service->ports[0].port, 81);
}

TEST_F(ManifestSourceTest, BrokenNewFileDeliversNothing) {
  StartSource();
  const size_t base = handler_.call_count();
  dir_.WriteAtomically("bad.json", R"({"kind": "Service", )");
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});
  EXPECT_EQ(stats_.objects_rejected, 1u);
  EXPECT_EQ(logs_.CountMatching({"bad.json", "skipped: JSON"}), 1u)
      << ::testing::PrintToString(logs_.Warnings());
}

// A Service whose new version is rejected is withdrawn, not kept at its last good version: that
// one may be less restrictive than what the file now asks for (fail closed). EndpointSlices keep
// theirs (stale endpoints widen nobody's access).
TEST_F(ManifestSourceTest, RejectedServiceUpdateWithdrawsTheServiceSlicesKeepTheirs) {
  dir_.Write("app.yaml", ServiceYaml("web", 80) + "---\n" + ServiceYaml("api", 8080) + "---\n" +
                             SliceYaml("web-1", "web", "10.99.1.11"));
  StartSource();
  const size_t base = handler_.call_count();

  dir_.WriteAtomically("app.yaml", ServiceYaml("web", 70000) + "---\n" + ServiceYaml("api", 9090) +
                                       "---\n" + SliceYaml("web-1", "web", "not-an-ip"));
  WaitFor(base + 2);
  Barrier(base + 2);
  EXPECT_EQ(EventsFrom(base), (Events{"service delete demo/web", "service update demo/api",
                                      "service add demo/barrier1"}));
  EXPECT_EQ(stats_.objects_rejected, 2u);
  EXPECT_EQ(logs_.CountMatching({"app.yaml",
                                 "rejected: document 1: service demo/web: "
                                 "spec.ports[0].port: 70000 out of range; its last good version "
                                 "is withdrawn (fail closed)"}),
            1u)
      << ::testing::PrintToString(logs_.Warnings());
  EXPECT_EQ(logs_.CountMatching({"app.yaml", "endpointslice demo/web-1",
                                 "keeping its last good "
                                 "version"}),
            1u)
      << ::testing::PrintToString(logs_.Warnings());

  // A good version brings it back.
  dir_.WriteAtomically("app.yaml", ServiceYaml("web", 80) + "---\n" + ServiceYaml("api", 9090));
  WaitFor(base + 5);
  EXPECT_EQ(handler_.events()[base + 3], "service add demo/web");
}

TEST_F(ManifestSourceTest, BadObjectsAreSkippedGoodNeighboursDelivered) {
  dir_.Write("mixed.yaml", ServiceYaml("web", 80) + "---\n" +
                               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n" +
                               ServiceYaml("Bad_Name", 80) + "---\n" +
                               SliceYaml("web-1", "web", "fd00::1") + "---\n" +
                               SliceYaml("web-2", "web", "10.99.1.12"));
  StartSource();
  EXPECT_EQ(handler_.events(), (Events{"service add demo/web", "endpointslice add demo/web-2",
                                       "service synced", "endpointslice synced", "node synced"}));
  EXPECT_EQ(stats_.objects_rejected, 2u);  // the ConfigMap is not an error, only not kpx's
  EXPECT_EQ(logs_.CountMatching({"mixed.yaml", "ConfigMap"}), 0u);
  EXPECT_EQ(logs_.CountMatching({"mixed.yaml", "document 3: service: metadata.name"}), 1u);
  EXPECT_EQ(logs_.CountMatching({"mixed.yaml",
                                 "document 4: endpointslice demo/web-1: "
                                 "endpoints[0].addresses[0]: \"fd00::1\" is not an "
                                 "IPv4 address"}),
            1u)
      << ::testing::PrintToString(logs_.Warnings());
}

// An ingress-nginx-like stream: kinds kpx does not use pass quietly; a Service the API server
// would have given a cluster IP is skipped with a warning naming it, not dropped silently.
TEST_F(ManifestSourceTest, ServicesWithoutClusterIpAreNamedOtherKindsPassQuietly) {
  std::string no_ip = ServiceYaml("controller", 80);
  no_ip.replace(no_ip.find("  clusterIP: 10.96.0.10\n"), 24, "");
  std::string headless = ServiceYaml("peers", 80);
  headless.replace(headless.find("10.96.0.10"), 10, "None");
  dir_.Write("ingress.yaml",
             "apiVersion: v1\nkind: Namespace\nmetadata: {name: ingress}\n---\n"
             "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: c, namespace: demo}\n"
             "spec: {replicas: 1}\n---\n"
             "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
             "metadata: {name: crb}\n---\n" +
                 no_ip + "---\n" + headless + "---\n" + ServiceYaml("web", 80));
  StartSource();
  EXPECT_EQ(handler_.events()[0], "service add demo/peers");
  EXPECT_EQ(handler_.events()[1], "service add demo/web");
  EXPECT_EQ(handler_.call_count(), 2u + kSynced.size());
  EXPECT_EQ(stats_.objects_rejected, 0u);
  EXPECT_EQ(stats_.objects_skipped, 1u);
  ASSERT_EQ(logs_.Warnings().size(), 1u) << ::testing::PrintToString(logs_.Warnings());
  EXPECT_EQ(
      logs_.CountMatching({"ingress.yaml", "service demo/controller skipped", "no spec.clusterIP"}),
      1u);
}

TEST_F(ManifestSourceTest, SkipsWhatKubeProxySkips) {
  dir_.Write("skip.yaml",
             ServiceYaml("other", 80, "{service.kubernetes.io/service-proxy-name: other-proxy}") +
                 "---\n" + SliceYaml("fq-1", "web", "web.example.com", "FQDN") + "---\n" +
                 SliceYaml("web-1", "web", "10.99.1.11") + "---\n" +
                 NodeYaml("kpx-peer", "10.99.0.3"));
  StartSource();
  EXPECT_EQ(handler_.events()[0], "endpointslice add demo/web-1");
  EXPECT_EQ(handler_.call_count(), 1u + kSynced.size());
  EXPECT_EQ(stats_.objects_skipped, 2u);
  EXPECT_EQ(stats_.objects_rejected, 0u);
  EXPECT_TRUE(logs_.Warnings().empty()) << ::testing::PrintToString(logs_.Warnings());
}

// An edit costs the edited file: the others are recognised by their identity (inode, size, times)
// and neither read nor diffed again. Files younger than the clock-tick window are re-read (and
// recognised by digest) until they settle, so the files are aged first.
TEST_F(ManifestSourceTest, AnEditReadsOnlyTheEditedFile) {
  constexpr int kFiles = 20;
  for (int i = 0; i < kFiles; ++i) {
    dir_.Write("f" + std::to_string(100 + i) + ".yaml", ServiceYaml("s" + std::to_string(i), 80));
  }
  StartSource();
  EXPECT_EQ(stats_.files_read.load(), static_cast<uint64_t>(kFiles));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  // The first edit after they settled reads them all once more, and records their identities.
  size_t calls = handler_.call_count();
  dir_.WriteAtomically("f105.yaml", ServiceYaml("s5", 81));
  WaitFor(calls + 1);
  const uint64_t before = stats_.files_read.load();
  calls = handler_.call_count();
  dir_.WriteAtomically("f105.yaml", ServiceYaml("s5", 82));
  WaitFor(calls + 1);
  EXPECT_EQ(EventsFrom(calls), Events{"service update demo/s5"});
  // Only f105.yaml was read: once per rescan the rename caused (1 or 2), never the other 19.
  const uint64_t read = stats_.files_read.load() - before;
  EXPECT_GE(read, 1u);
  EXPECT_LE(read, 3u) << "files other than the edited one were read again";
}

TEST_F(ManifestSourceTest, DuplicateAcrossFilesLastNameWins) {
  dir_.Write("a.yaml", ServiceYaml("web", 80));
  dir_.Write("b.yaml", ServiceYaml("web", 81));
  StartSource();
  const auto calls = handler_.calls();
  ASSERT_EQ(calls[0].event, "service add demo/web");
  EXPECT_EQ(calls[0].service->ports[0].port, 81);
  EXPECT_EQ(logs_.CountMatching({"service demo/web is defined in a.yaml and b.yaml; using the "
                                 "one in b.yaml"}),
            1u)
      << ::testing::PrintToString(logs_.Warnings());
  const size_t base = handler_.call_count();

  // Still a duplicate after an unrelated change: not reported again.
  Barrier(base);
  EXPECT_EQ(logs_.Warnings().size(), 1u) << ::testing::PrintToString(logs_.Warnings());

  dir_.Remove("b.yaml");
  WaitFor(base + 2);
  auto update = handler_.calls()[base + 1];
  EXPECT_EQ(update.event, "service update demo/web");
  // The old Service is its identity alone (KeptService).
  EXPECT_EQ(update.old_service->meta.Key(), "demo/web");
  EXPECT_TRUE(update.old_service->ports.empty());
  EXPECT_EQ(update.service->ports[0].port, 80);
}

// The initial scan hands over each batch (here: each file) before reading the next, so a key a
// later file overrides is first added as the earlier version, then updated, before the synced
// signals; the definitions stay remembered as when delivered at once.
TEST_F(ManifestSourceTest, InitialScanInBatchesEndsWithTheLastFilesVersions) {
  dir_.Write("a.yaml", ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  dir_.Write("b.yaml", ServiceYaml("web", 81) + "---\n" + SliceYaml("web-1", "web", "10.99.1.6"));
  dir_.Write("c.yaml", ServiceYaml("api", 90));
  StartSource(/*initial_batch_objects=*/1);
  Events want = {"service add demo/web", "endpointslice add demo/web-1", "service update demo/web",
                 "endpointslice update demo/web-1", "service add demo/api"};
  want.insert(want.end(), kSynced.begin(), kSynced.end());
  ASSERT_EQ(handler_.events(), want);
  const auto calls = handler_.calls();
  EXPECT_EQ(calls[2].service->ports[0].port, 81);
  EXPECT_EQ(calls[3].slice->endpoints[0].addresses[0].ToString(), "10.99.1.6");
  EXPECT_EQ(logs_.CountMatching({"is defined in a.yaml and b.yaml; using the one in b.yaml"}), 2u)
      << ::testing::PrintToString(logs_.Warnings());
  const size_t base = handler_.call_count();

  dir_.Remove("b.yaml");
  WaitFor(base + 2);
  EXPECT_EQ(EventsFrom(base),
            (Events{"service update demo/web", "endpointslice update demo/web-1"}));
  EXPECT_EQ(handler_.calls()[base].service->ports[0].port, 80);
  EXPECT_EQ(handler_.calls()[base + 1].slice->endpoints[0].addresses[0].ToString(), "10.99.1.5");
}

TEST_F(ManifestSourceTest, IdenticalDuplicateInALaterBatchDeliversNothing) {
  dir_.Write("a.yaml", ServiceYaml("web", 80));
  dir_.Write("b.yaml", ServiceYaml("web", 80));
  StartSource(/*initial_batch_objects=*/1);
  Events want = {"service add demo/web"};
  want.insert(want.end(), kSynced.begin(), kSynced.end());
  EXPECT_EQ(handler_.events(), want);
  const size_t base = handler_.call_count();

  dir_.Remove("b.yaml");
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});
}

// Batches are for the initial scan only: a later scan that moves keys between files hands over
// the final result per key, never a delete and re-add of an object that stayed.
TEST_F(ManifestSourceTest, KeysMovingBetweenFilesInOneLaterScanAreNotDeletedAndReadded) {
  ASSERT_EQ(mkdir(dir_.File("..v1").c_str(), 0755), 0);
  dir_.Write("..v1/a.yaml",
             ServiceYaml("web", 80) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  dir_.Write("..v1/b.yaml", ServiceYaml("api", 90));
  ASSERT_EQ(symlink("..v1", dir_.File("..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/a.yaml", dir_.File("a.yaml").c_str()), 0);
  ASSERT_EQ(symlink("..data/b.yaml", dir_.File("b.yaml").c_str()), 0);
  StartSource(/*initial_batch_objects=*/1);
  const size_t base = handler_.call_count();
  ASSERT_EQ(base, 6u) << Dump();

  // web and its slice move from a.yaml to b.yaml (the slice unchanged, the Service edited), api
  // the other way, unchanged: one rename, so one scan.
  ASSERT_EQ(mkdir(dir_.File("..v2").c_str(), 0755), 0);
  dir_.Write("..v2/a.yaml", ServiceYaml("api", 90));
  dir_.Write("..v2/b.yaml",
             ServiceYaml("web", 81) + "---\n" + SliceYaml("web-1", "web", "10.99.1.5"));
  ASSERT_EQ(symlink("..v2", dir_.File("..data_tmp").c_str()), 0);
  dir_.Rename("..data_tmp", "..data");
  WaitFor(base + 1);
  Barrier(base + 1);
  EXPECT_EQ(EventsFrom(base), (Events{"service update demo/web", "service add demo/barrier1"}));
  EXPECT_EQ(handler_.calls()[base].service->ports[0].port, 81);
}

TEST_F(ManifestSourceTest, OnlyThisNodeIsDelivered) {
  dir_.Write("nodes.yaml",
             NodeYaml("kpx-peer", "10.99.0.3") + "---\n" + NodeYaml("kpx-node", "10.99.0.2"));
  StartSource();
  ASSERT_EQ(handler_.events()[0], "node add kpx-node");
  EXPECT_EQ(handler_.calls()[0].node->internal_ips[0].ToString(), "10.99.0.2");
  const size_t base = handler_.call_count();
  dir_.WriteAtomically("nodes.yaml", NodeYaml("kpx-peer", "10.99.0.4") + "---\n" +
                                         NodeYaml("kpx-node", "10.99.0.5"));
  WaitFor(base + 1);
  auto update = handler_.calls()[base];
  EXPECT_EQ(update.event, "node update kpx-node");
  EXPECT_EQ(update.old_node->internal_ips[0].ToString(), "10.99.0.2");
  EXPECT_EQ(update.node->internal_ips[0].ToString(), "10.99.0.5");
}

// The Node is kept whole, every definition of it too: one that wins again is delivered as it is,
// even after its file stopped decoding (its last good version stays).
TEST_F(ManifestSourceTest, DuplicateNodeWinningAgainIsItsLastGoodVersion) {
  dir_.Write("a.yaml", NodeYaml("kpx-node", "10.99.0.2"));
  dir_.Write("b.yaml", NodeYaml("kpx-node", "10.99.0.3"));
  StartSource();
  ASSERT_EQ(handler_.events()[0], "node add kpx-node");
  EXPECT_EQ(handler_.calls()[0].node->internal_ips[0].ToString(), "10.99.0.3");
  size_t base = handler_.call_count();
  dir_.WriteAtomically("a.yaml", NodeYaml("kpx-node", "10.99.0.256"));  // rejected
  Barrier(base);
  EXPECT_EQ(EventsFrom(base), Events{"service add demo/barrier1"});
  EXPECT_EQ(stats_.objects_rejected, 1u);
  base = handler_.call_count();
  dir_.Remove("b.yaml");
  WaitFor(base + 1);
  auto update = handler_.calls()[base];
  EXPECT_EQ(update.event, "node update kpx-node");
  EXPECT_EQ(update.old_node->internal_ips[0].ToString(), "10.99.0.3");
  EXPECT_EQ(update.node->internal_ips[0].ToString(), "10.99.0.2");
}

TEST_F(ManifestSourceTest, NullHandlersAreAllowed) {
  dir_.Write("web.yaml", ServiceYaml("web", 80) + "---\n" +
                             SliceYaml("web-1", "web", "10.99.1.11") + "---\n" +
                             NodeYaml("kpx-node", "10.99.0.2"));
  ManifestSource source(dir_.path(), kNodeName, &handler_, nullptr, nullptr, &stats_);
  ASSERT_TRUE(source.Start().ok());
  EXPECT_EQ(handler_.events(), (Events{"service add demo/web", "service synced"}));
}

size_t ThreadCount() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  while (const dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST_F(ManifestSourceTest, ConstructorStartsNoThreadAndStopIsPrompt) {
  // Sanitizer runtimes start a helper thread with the process's first thread; start it now so
  // that it does not count as the source's.
  std::thread([] {}).join();
  const size_t threads = ThreadCount();
  source_ = std::make_unique<ManifestSource>(dir_.path(), kNodeName, &handler_, &handler_,
                                             &handler_, &stats_);
  EXPECT_EQ(ThreadCount(), threads);
  ASSERT_TRUE(source_->Start().ok());
  EXPECT_EQ(ThreadCount(), threads + 1);

  const auto begin = std::chrono::steady_clock::now();
  source_->Stop();
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, std::chrono::milliseconds(500));
  EXPECT_EQ(ThreadCount(), threads);
  source_->Stop();  // idempotent

  // Nothing is delivered after Stop.
  const size_t base = handler_.call_count();
  dir_.Write("web.yaml", ServiceYaml("web", 80));
  EXPECT_FALSE(handler_.WaitForCalls(base + 1, std::chrono::milliseconds(200)));
}

TEST_F(ManifestSourceTest, DestructorStops) {
  StartSource();
  const auto begin = std::chrono::steady_clock::now();
  source_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(500));
}

TEST_F(ManifestSourceTest, FifoNamedLikeAManifestDoesNotHang) {
  ASSERT_EQ(mkfifo(dir_.File("pipe.yaml").c_str(), 0644), 0);
  dir_.Write("web.yaml", ServiceYaml("web", 80));
  StartSource();
  EXPECT_EQ(handler_.events()[0], "service add demo/web");
}

}  // namespace
}  // namespace kpx
