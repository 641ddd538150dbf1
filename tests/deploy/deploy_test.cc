// Checks deploy/ against what kpx knows: the manifests parse, they reference each other
// consistently, the DaemonSet has what a node proxy needs, RBAC grants exactly what kpx uses,
// and the ConfigMap's KubeProxyConfiguration is accepted by kpx's own parser.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cmd/config_file.h"
#include "cmd/kpx_flags.h"

namespace kpx {
namespace {

std::vector<YAML::Node> LoadAll(const std::string& file) {
  return YAML::LoadAllFromFile(std::string(KPX_DEPLOY_DIR) + "/" + file);
}

YAML::Node Find(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == kind) return d;
  }
  ADD_FAILURE() << "no " << kind;
  return YAML::Node();
}

TEST(DeployTest, EveryDocumentHasApiVersionKindAndName) {
  for (const char* file : {"rbac.yaml", "configmap.yaml", "daemonset.yaml"}) {
    for (const auto& d : LoadAll(file)) {
      EXPECT_TRUE(d["apiVersion"].IsScalar()) << file;
      EXPECT_TRUE(d["kind"].IsScalar()) << file;
      EXPECT_FALSE(d["metadata"]["name"].as<std::string>("").empty()) << file;
    }
  }
}

TEST(DeployTest, DaemonSetRunsAsANodeProxy) {
  const auto ds = Find(LoadAll("daemonset.yaml"), "DaemonSet");
  EXPECT_EQ(ds["apiVersion"].as<std::string>(), "apps/v1");
  const auto spec = ds["spec"]["template"]["spec"];
  EXPECT_TRUE(spec["hostNetwork"].as<bool>());
  EXPECT_EQ(spec["serviceAccountName"].as<std::string>(), "kpx");
  EXPECT_EQ(ds["spec"]["selector"]["matchLabels"]["k8s-app"].as<std::string>(),
            ds["spec"]["template"]["metadata"]["labels"]["k8s-app"].as<std::string>());
  const auto c = spec["containers"][0];
  EXPECT_TRUE(c["securityContext"]["privileged"].as<bool>());

  std::set<std::string> host_paths;
  for (const auto& v : spec["volumes"]) {
    if (v["hostPath"]) host_paths.insert(v["hostPath"]["path"].as<std::string>());
  }
  EXPECT_TRUE(host_paths.contains("/run/xtables.lock"));
  EXPECT_TRUE(host_paths.contains("/lib/modules"));
  std::set<std::string> volumes, mounts;
  for (const auto& v : spec["volumes"]) volumes.insert(v["name"].as<std::string>());
  for (const auto& m : c["volumeMounts"]) mounts.insert(m["name"].as<std::string>());
  EXPECT_EQ(volumes, mounts);

  // The probes hit the endpoints kpx serves, on the port the config file binds.
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/livez");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<int>(), 10256);

  // The command line is one kpx accepts, and it names the config file the ConfigMap provides.
  std::vector<std::string> args;
  for (const auto& a : c["command"]) args.push_back(a.as<std::string>());
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "/usr/local/bin/kpx");
  KpxConfig config;
  FlagSet flags;
  RegisterKpxFlags(flags, config);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  ASSERT_TRUE(flags.Parse(static_cast<int>(argv.size()), argv.data()).ok());
  std::string mount_path;
  for (const auto& m : c["volumeMounts"]) {
    if (m["name"].as<std::string>() == "config") mount_path = m["mountPath"].as<std::string>();
  }
  const auto cm = Find(LoadAll("configmap.yaml"), "ConfigMap");
  bool found = false;
  for (const auto& kv : cm["data"]) {
    found = found || mount_path + "/" + kv.first.as<std::string>() == config.config_file;
  }
  EXPECT_TRUE(found) << config.config_file << " is not provided by the ConfigMap";
}

TEST(DeployTest, ConfigMapHoldsAConfigurationKpxAccepts) {
  const auto cm = Find(LoadAll("configmap.yaml"), "ConfigMap");
  const auto text = cm["data"]["config.conf"].as<std::string>();
  auto config = ParseConfigText(text, KpxConfig{});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(ValidateConfig(*config).ok());
  // Metrics stay on localhost by default: they are not meant for the network.
  EXPECT_EQ(config->metrics_bind_address.rfind("127.0.0.1:", 0), 0u);
}

TEST(DeployTest, RbacGrantsExactlyWhatKpxUses) {
  const auto docs = LoadAll("rbac.yaml");
  const auto role = Find(docs, "ClusterRole");
  std::set<std::string> grants;
  for (const auto& rule : role["rules"]) {
    for (const auto& g : rule["apiGroups"]) {
      for (const auto& r : rule["resources"]) {
        for (const auto& v : rule["verbs"]) {
          grants.insert(g.as<std::string>() + "/" + r.as<std::string>() + ":" +
                        v.as<std::string>());
        }
      }
    }
  }
  const std::set<std::string> want = {"/services:list",
                                      "/services:watch",
                                      "/nodes:list",
                                      "/nodes:watch",
                                      "discovery.k8s.io/endpointslices:list",
                                      "discovery.k8s.io/endpointslices:watch"};
  // Least privilege (issue 17): kpx posts no events, so it may not write any.
  EXPECT_EQ(grants, want);
  const auto binding = Find(docs, "ClusterRoleBinding");
  EXPECT_EQ(binding["roleRef"]["name"].as<std::string>(),
            role["metadata"]["name"].as<std::string>());
  const auto sa = Find(docs, "ServiceAccount");
  EXPECT_EQ(binding["subjects"][0]["name"].as<std::string>(),
            sa["metadata"]["name"].as<std::string>());
  EXPECT_EQ(binding["subjects"][0]["namespace"].as<std::string>(),
            sa["metadata"]["namespace"].as<std::string>());
}

}  // namespace
}  // namespace kpx
