// kpx-fake-apiserver --dir DIR [--manifests DIR] [--port N] [--host IP]
//
// FakeApiServer as a process, for shell tests of the kpx binary. Generates a throwaway PKI and
// writes DIR/kubeconfig (https://HOST:PORT, the CA, a bearer token), stores the Services,
// EndpointSlices and Nodes of the manifest directory (YAML or JSON, single objects or Lists),
// listens on HOST (default 127.0.0.1; an IPv6 address is written [IP]; port 0: pick one) and prints
// "ready PORT". Then it reads commands from stdin, one per line, and answers each with one line,
// "ok" or "error <why>", so that a shell holding both ends can synchronise:
//   stop | start                 the server goes away (connections cut) / comes back, same port
//   status N                     answer every request with HTTP status N (0: normal service)
//   gone on|off                  every watch is answered 410 Gone (open ones get an ERROR event)
//   compact                      forget history: watches from older versions get 410
//   advance N                    jump the resourceVersion counter forward by N (a new epoch)
//   endwatches | dropwatches     end every open watch cleanly / cut the next event in half
//   apply FILE                   put (add or replace) every object of a manifest file
//   delete KIND NAMESPACE NAME   KIND service|endpointslice|node; NAMESPACE "-" for nodes
//   rv                           answers "ok <current resourceVersion>"
//   stats                        answers "ok requests=N errors=N lists=N watches=N cut=N gone=N":
//                                requests, those answered 5xx, lists and watches served,
//                                watches cut mid-event, watches answered 410
//   quit                         (also at end of input)
// Logs go to stderr.

#include <glog/logging.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "k8s-watch/client/base64.h"
#include "k8s-watch/decode/json_text.h"
#include "k8s-watch/decode/yaml_to_json.h"
#include "k8s-watch/manifest/manifest_parser.h"
#include "tests/k8s-watch/client/fake_api_server.h"
#include "tests/k8s-watch/client/test_pki.h"
#include "tests/support/wire_objects.h"

namespace kpx::testing {
namespace {

using R = FakeApiServer::Resource;

struct Item {
  R resource;
  FakeApiServer::Object object;
};

std::string StringMember(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

std::optional<R> ResourceOfKind(std::string kind) {
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (kind == "service" || kind == "services" || kind == "svc") return R::kServices;
  if (kind == "endpointslice" || kind == "endpointslices") return R::kEndpointSlices;
  if (kind == "node" || kind == "nodes") return R::kNodes;
  return std::nullopt;
}

// One API object as the server stores it: identity, labels, and a renderer that serialises the
// manifest's JSON without kind/apiVersion and with metadata.resourceVersion set.
Status ToItem(const rapidjson::Value& doc, std::vector<Item>* out) {
  if (!doc.IsObject()) return Status::Error("a document is not an object");
  const std::string kind = StringMember(doc, "kind");
  if (kind == "List") {
    auto items = doc.FindMember("items");
    if (items == doc.MemberEnd() || !items->value.IsArray()) {
      return Status::Error("a List without items");
    }
    for (const rapidjson::Value& item : items->value.GetArray()) {
      if (Status s = ToItem(item, out); !s.ok()) return s;
    }
    return Status::Ok();
  }
  std::optional<R> resource = ResourceOfKind(kind);
  if (!resource || kind != (*resource == R::kServices         ? "Service"
                            : *resource == R::kEndpointSlices ? "EndpointSlice"
                                                              : "Node")) {
    return Status::Error("unsupported kind \"" + kind + "\"");
  }
  auto meta = doc.FindMember("metadata");
  if (meta == doc.MemberEnd() || !meta->value.IsObject()) {
    return Status::Error(kind + " without metadata");
  }
  Item item{*resource, {}};
  item.object.name = StringMember(meta->value, "name");
  if (*resource != R::kNodes) item.object.namespace_ = StringMember(meta->value, "namespace");
  if (item.object.name.empty() || (*resource != R::kNodes && item.object.namespace_.empty())) {
    return Status::Error(kind + " without metadata.name or metadata.namespace");
  }
  if (auto labels = meta->value.FindMember("labels");
      labels != meta->value.MemberEnd() && labels->value.IsObject()) {
    for (const auto& l : labels->value.GetObject()) {
      if (l.value.IsString()) item.object.labels[l.name.GetString()] = l.value.GetString();
    }
  }
  auto stored = std::make_shared<rapidjson::Document>();
  stored->CopyFrom(doc, stored->GetAllocator());
  stored->RemoveMember("kind");
  stored->RemoveMember("apiVersion");
  rapidjson::Value& m = (*stored)["metadata"];
  auto& alloc = stored->GetAllocator();
  m.RemoveMember("resourceVersion");
  if (!m.HasMember("uid")) {
    const std::string uid = StableUid(kind + "/" + item.object.namespace_ + "/" + item.object.name);
    m.AddMember("uid", rapidjson::Value(uid.c_str(), alloc), alloc);
  }
  if (!m.HasMember("creationTimestamp")) {
    m.AddMember("creationTimestamp", "2024-05-02T09:14:03Z", alloc);
  }
  item.object.render = [stored](uint64_t resource_version) {
    rapidjson::Document copy;
    copy.CopyFrom(*stored, copy.GetAllocator());
    const std::string rv = std::to_string(resource_version);
    copy["metadata"].AddMember("resourceVersion", rapidjson::Value(rv.c_str(), copy.GetAllocator()),
                               copy.GetAllocator());
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    copy.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
  };
  out->push_back(std::move(item));
  return Status::Ok();
}

// Every object of one manifest file (JSON stream or YAML documents), or the first problem.
Status ReadManifest(const std::string& path, std::vector<Item>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<rapidjson::Document> docs;
  const bool json = path.ends_with(".json");
  Status s =
      json ? JsonText::ParseAll(text.str(), &docs) : YamlToJson::ConvertAll(text.str(), &docs);
  if (!s.ok()) return Status::Error(path + ": " + s.message());
  for (const rapidjson::Document& doc : docs) {
    if (Status item = ToItem(doc, out); !item.ok()) {
      return Status::Error(path + ": " + item.message());
    }
  }
  return Status::Ok();
}

Status ReadManifestDirectory(const std::string& dir, std::vector<Item>* out) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && ManifestParser::IsManifestName(name)) {
      files.push_back(entry.path().string());
    }
  }
  if (ec) return Status::Error("cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    if (Status s = ReadManifest(f, out); !s.ok()) return s;
  }
  return Status::Ok();
}

std::string RandomToken() {
  std::random_device rd;
  std::string out;
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 32; ++i) out.push_back(alphabet[rd() % 36]);
  return out;
}

bool WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.good()) return false;
  }
  chmod(tmp.c_str(), mode);
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string Kubeconfig(const std::string& url, const std::string& ca_pem,
                       const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " + url +
         "\n    certificate-authority-data: " + Base64::Encode(ca_pem) +
         "\nusers:\n- name: kube-proxy\n  user:\n    token: " + token +
         "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: kube-proxy\n"
         "current-context: fake\n";
}

int Usage(const std::string& why) {
  std::cerr << "kpx-fake-apiserver: " << why
            << "\nusage: kpx-fake-apiserver --dir DIR [--manifests DIR] [--port N] [--host IP]\n";
  return 2;
}

class Commands {
 public:
  explicit Commands(FakeApiServer* server) : server_(server) {}

  // Runs one command line; returns the reply line. Sets *quit for "quit".
  std::string Run(const std::string& line, bool* quit) {
    std::istringstream in(line);
    std::vector<std::string> args;
    for (std::string w; in >> w;) args.push_back(w);
    if (args.empty()) return "error empty command";
    const std::string& cmd = args[0];
    auto want = [&](size_t n) { return args.size() == n + 1; };
    if (cmd == "quit" && want(0)) {
      *quit = true;
      return "ok";
    }
    if (cmd == "stop" && want(0)) {
      server_->Stop();
      running_ = false;
      return "ok";
    }
    if (cmd == "start" && want(0)) {
      if (running_) return "error already running";
      server_->Start(server_->port());
      running_ = true;
      return "ok";
    }
    if (cmd == "status" && want(1)) {
      int code = 0;
      try {
        code = std::stoi(args[1]);
      } catch (const std::exception&) {
        return "error bad status " + args[1];
      }
      if (code != 0 && (code < 100 || code > 599)) return "error bad status " + args[1];
      server_->SetFailAllRequests(code);
      return "ok";
    }
    if (cmd == "gone" && want(1) && (args[1] == "on" || args[1] == "off")) {
      server_->SetWatchesGone(args[1] == "on");
      return "ok";
    }
    if (cmd == "compact" && want(0)) {
      server_->Compact();
      return "ok";
    }
    if (cmd == "advance" && want(1)) {
      uint64_t by = 0;
      try {
        by = std::stoull(args[1]);
      } catch (const std::exception&) {
        return "error bad count " + args[1];
      }
      server_->AdvanceResourceVersion(by);
      return "ok";
    }
    if ((cmd == "endwatches" || cmd == "dropwatches") && want(0)) {
      for (R r : {R::kServices, R::kEndpointSlices, R::kNodes}) {
        if (cmd == "endwatches") {
          server_->EndWatches(r);
        } else {
          server_->DropWatchesMidEvent(r);
        }
      }
      return "ok";
    }
    if (cmd == "rv" && want(0)) return "ok " + std::to_string(server_->resource_version());
    if (cmd == "stats" && want(0)) {
      int lists = 0;
      int watches = 0;
      int errors = 0;
      const std::vector<FakeApiServer::Request> requests = server_->requests();
      for (const FakeApiServer::Request& r : requests) errors += r.status >= 500;
      for (R r : {R::kServices, R::kEndpointSlices, R::kNodes}) {
        lists += server_->list_requests(r);
        watches += server_->watch_requests(r);
      }
      return "ok requests=" + std::to_string(requests.size()) +
             " errors=" + std::to_string(errors) + " lists=" + std::to_string(lists) +
             " watches=" + std::to_string(watches) +
             " cut=" + std::to_string(server_->watches_cut()) +
             " gone=" + std::to_string(server_->watches_gone());
    }
    if (cmd == "apply" && want(1)) {
      std::vector<Item> items;
      if (Status s = ReadManifest(args[1], &items); !s.ok()) return "error " + s.message();
      for (Item& item : items) server_->Put(item.resource, std::move(item.object));
      return "ok";
    }
    if (cmd == "delete" && want(3)) {
      std::optional<R> r = ResourceOfKind(args[1]);
      if (!r) return "error unknown kind " + args[1];
      const std::string ns = *r == R::kNodes || args[2] == "-" ? "" : args[2];
      if (!server_->Contains(*r, ns, args[3]))
        return "error no " + args[1] + " " + args[2] + "/" + args[3];
      server_->Delete(*r, ns, args[3]);
      return "ok";
    }
    return "error unknown command: " + line;
  }

 private:
  FakeApiServer* server_;
  bool running_ = true;
};

int Main(int argc, char** argv) {
  std::string dir;
  std::string manifests;
  int port = 0;
  std::string host = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Usage(arg + " needs a value");
    }
    if (arg == "--dir") {
      dir = value;
    } else if (arg == "--manifests") {
      manifests = value;
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--port") {
      try {
        port = std::stoi(value);
      } catch (const std::exception&) {
        return Usage("bad --port " + value);
      }
      if (port < 0 || port > 65535) return Usage("bad --port " + value);
    } else {
      return Usage("unknown flag " + arg);
    }
  }
  if (dir.empty()) return Usage("--dir is required");

  std::vector<Item> items;
  if (!manifests.empty()) {
    if (Status s = ReadManifestDirectory(manifests, &items); !s.ok()) {
      std::cerr << "kpx-fake-apiserver: " << s.message() << "\n";
      return 1;
    }
  }
  const TestPki pki = TestPki::Generate();
  FakeApiServer server(pki);
  const std::string token = RandomToken();
  server.SetTokens({{token, "system:kube-proxy"}});
  for (Item& item : items) server.Put(item.resource, std::move(item.object));
  server.Start(port, host);
  if (!WriteFile(dir + "/ca.crt", pki.ca_pem, 0644) ||
      !WriteFile(dir + "/kubeconfig", Kubeconfig(server.url(), pki.ca_pem, token), 0600)) {
    std::cerr << "kpx-fake-apiserver: cannot write to " << dir << "\n";
    return 1;
  }
  LOG(INFO) << "serving " << items.size() << " object(s) on " << server.url();
  std::cout << "ready " << server.port() << std::endl;

  Commands commands(&server);
  bool quit = false;
  for (std::string line; !quit && std::getline(std::cin, line);) {
    const std::string reply = commands.Run(line, &quit);
    LOG(INFO) << "command \"" << line << "\": " << reply;
    std::cout << reply << std::endl;
  }
  server.Stop();
  return 0;
}

}  // namespace
}  // namespace kpx::testing

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  return kpx::testing::Main(argc, argv);
}
